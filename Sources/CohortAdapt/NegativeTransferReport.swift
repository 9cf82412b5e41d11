/// What the negative-transfer guard chose and why: each candidate's validation score.
public struct NegativeTransferReport: Codable, Sendable, Equatable {
    /// A model the guard can keep.
    public enum Choice: String, Codable, Sendable {
        /// The model the site received (global or transferred), unchanged.
        case incoming
        /// The incoming model after site adaptation.
        case adapted
        /// A small model trained from scratch on the site's training split.
        case scratch
        /// The site's personal model (fine-tuned, Ditto's, or FedRep's with its own head).
        case personal
    }

    /// The kept model.
    public var winner: Choice
    /// Validation score (accuracy unless another metric was given) of each candidate.
    public var incomingScore: Float
    /// Nil when no adapted model was offered.
    public var adaptedScore: Float?
    /// Nil when no personal model was offered.
    public var personalScore: Float? = nil
    public var scratchScore: Float
    /// Winner's score minus the best other candidate's (0 on a tie).
    public var margin: Float
    /// Winner's score minus the incoming model's: what the guard gained over taking the
    /// incoming model as it is (0 when the incoming model won).
    public var gainOverIncoming: Float
    /// Rows in the validation split the scores come from.
    public var validationCount: Int
}
