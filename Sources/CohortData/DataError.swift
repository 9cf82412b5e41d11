/// A data file that cannot be used, with the reason and place (file, line or byte offset, field).
public struct DataError: Error, CustomStringConvertible, Equatable {
    /// The one-line reason, starting with the file it concerns.
    public let description: String
    /// An error with the given one-line reason.
    public init(_ description: String) { self.description = description }
}
