/// Why writing a report failed.
public enum ReportError: Error, CustomStringConvertible, Equatable {
    /// A file or directory could not be created or written.
    case io(path: String, reason: String)

    /// A one-line message naming the path and the reason.
    public var description: String {
        switch self {
        case .io(let path, let reason): return "cannot write \(path): \(reason)"
        }
    }
}
