/// What a node's expected sample count (the secrets file's third field, where the operator
/// knows it) does to the sample count the node claims: nothing when the claim is within it;
/// otherwise the weight is capped at the expected count, or the update is rejected when the
/// plan's screening action is `reject` (protocols/wire.md, "Expected sample counts").
enum ExpectedSampleCheck: Equatable, Sendable, CustomStringConvertible {
    /// No expected count, or a claim within it.
    case within
    /// Counted with `to` (the expected count) instead of the `claimed` samples.
    case capped(claimed: Int, to: Int)
    /// Left out of the round: the node claimed more than expected and the plan rejects.
    case rejected(claimed: Int, expected: Int)

    /// The check of `claimed` against `expected` (nil: none known) under `action`.
    init(claimed: Int, expected: Int?, action: UpdateScreeningPlan.Action) {
        guard let expected, claimed > expected else { self = .within; return }
        self = action == .reject ? .rejected(claimed: claimed, expected: expected) : .capped(claimed: claimed, to: expected)
    }

    /// The sample weight the update counts with (the claim when `within` or `rejected`).
    func weight(claimed: Int) -> Int {
        if case .capped(_, let to) = self { return to }
        return claimed
    }

    var description: String {
        switch self {
        case .within: return "within the expected sample count"
        case .capped(let claimed, let to):
            return "sample weight capped from \(claimed) to \(to), the node's expected sample count in the secrets file"
        case .rejected(let claimed, let expected):
            return "claims \(claimed) samples, over the \(expected) the secrets file expects for the node (the plan's screening rejects)"
        }
    }
}
