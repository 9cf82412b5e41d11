/// Why a delta message was rejected, in one line: the tensor (when the problem is inside a
/// tensor record), the byte offset where it was found, and the problem.
///
/// Offsets count from the start of the message, or from the start of the inflated body when
/// the body was zlib-compressed (`inBody`).
public struct DeltaDecodeError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The tensor whose record is bad, if the problem is inside a record.
    public let tensor: String?
    /// The byte offset of the problem, when it has one.
    public let offset: Int?
    /// Whether `offset` counts within the inflated body rather than the message.
    public let inBody: Bool
    /// What is wrong.
    public let problem: String

    /// An error found at `offset` (in the message, or in the inflated body when `inBody`).
    public init(_ problem: String, tensor: String? = nil, offset: Int? = nil, inBody: Bool = false) {
        self.problem = problem
        self.tensor = tensor
        self.offset = offset
        self.inBody = inBody
    }

    /// `delta rejected: tensor 'fc1.weight', body byte 57: index 12 is not greater than the previous index 12`.
    public var description: String {
        var location: [String] = []
        if let tensor { location.append("tensor '\(tensor)'") }
        if let offset { location.append("\(inBody ? "body" : "message") byte \(offset)") }
        return "delta rejected: " + (location.isEmpty ? "" : location.joined(separator: ", ") + ": ") + problem
    }
}
