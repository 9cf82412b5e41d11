/// A problem building, encoding or applying a `ModelDelta` on the sending side (state dicts
/// that do not match, a non-finite value, an invalid codec configuration), in one line.
public struct ModelDeltaError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What is wrong, naming the tensor where there is one.
    public let description: String
    /// An error with the given one-line description.
    public init(_ description: String) { self.description = description }
}
