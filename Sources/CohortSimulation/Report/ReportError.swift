/// Why writing a report failed.
public enum ReportError: Error, CustomStringConvertible, Equatable {
    /// A file or directory could not be created or written.
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case .io(let path, let reason): return "cannot write \(path): \(reason)"
        }
    }
}
