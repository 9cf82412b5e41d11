/// A privacy setting, input or protocol step that cannot go ahead, with the reason.
///
/// Thrown by the differential-privacy types (clipping, noise, the accountant) and by the
/// secure-aggregation primitives; the message names the broken rule.
public struct PrivacyError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
