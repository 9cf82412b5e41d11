import CohortTransport
import Foundation

/// The node's own privacy policy: which plans it takes part in, and which of its metrics leave
/// the site (protocols/privacy.md, "What leaves a node").
extension FederatedNode {
    /// The node refuses a round's plan (its `require…` settings, or a plan asking for a
    /// protection its MODEL does not set up). The node tells the coordinator and stops.
    public struct PolicyRefusal: Error, CustomStringConvertible {
        public let description: String
    }

    /// Checks a MODEL against the node's policy; on refusal sends ERROR with the reason and throws.
    func enforcePolicy(_ header: RoundMessages.ModelHeader, conn: FramedConnection, log: (String) -> Void) throws {
        guard let reason = Self.refusal(of: header, requireSecureAggregation: config.requireSecureAggregation, requireDP: config.requireDP) else { return }
        log("\(config.name): refusing round \(header.round): \(reason)")
        _ = Handshake.refuse(conn, "node '\(config.name)' refuses the plan: \(reason)")
        throw PolicyRefusal(description: "\(config.name): refused the plan of round \(header.round): \(reason)")
    }

    /// Why a node with these requirements refuses the MODEL `header` (nil: it takes part).
    public static func refusal(of header: RoundMessages.ModelHeader, requireSecureAggregation: Bool, requireDP: Bool) -> String? {
        let plan = header.plan
        if header.secureAggregation == nil {
            if plan.secureAggregation != nil || plan.privacy?.mode == .distributed {
                return "the plan asks for secure aggregation" + (plan.privacy?.mode == .distributed ? " and distributed DP" : "")
                    + " but the MODEL assigns this node no part in it, so its update would go out unmasked"
            }
            if requireSecureAggregation { return "the plan has no secure aggregation, which --require-secure-aggregation demands" }
        }
        if requireDP && plan.privacy?.mode != .distributed && plan.recordPrivacy == nil {
            return "the plan has no differential privacy applied at this node (privacy.mode distributed, or recordPrivacy), which --require-dp demands"
                + (plan.privacy != nil ? "; under central DP the coordinator adds the noise and sees the update without it" : "")
        }
        return nil
    }

    /// Whether this site's evaluation scores and losses stay here: under secure aggregation (the
    /// coordinator is to learn only the sum), under record-level DP (the scores are computed
    /// from the site's records without noise), and under the node's own `require…` policy —
    /// unless `shareMetrics`.
    func keepsScoresLocal(_ plan: TrainingPlan) -> Bool {
        !config.shareMetrics && (plan.secureAggregation != nil || plan.recordPrivacy != nil || config.requireSecureAggregation || config.requireDP)
    }

    /// Why `keepsScoresLocal` holds, for the log.
    func scoresLocalReason(_ plan: TrainingPlan) -> String {
        plan.secureAggregation != nil ? "secure aggregation" : plan.recordPrivacy != nil ? "record-level DP" : "this node's --require-* policy"
    }

    /// The metrics of a plain UPDATE. Data-independent figures (DP-SGD's `record_*`) always go;
    /// the scores of the received and the trained model only where the plan does not keep them
    /// here (`keepsScoresLocal`). DP-SGD's training loss never goes: it is computed on the
    /// sampled training records without clipping or noise.
    func outgoingMetrics(_ update: LocalUpdate, plan: TrainingPlan) -> [String: Double] {
        var metrics = update.accounting
        if !keepsScoresLocal(plan) {
            metrics.merge(update.received) { a, _ in a }
            metrics.merge(update.trained.filter { plan.recordPrivacy == nil || $0.key != "train_loss" }) { a, _ in a }
        }
        return metrics.filter { $0.value.isFinite }   // JSON has no NaN: a metric the node cannot measure is left out
    }

    /// The metrics sent with a masked input: DP-SGD's data-independent figures, and only with
    /// `shareMetrics` the scores of the model the node received (never anything about its update).
    func maskedInputMetrics(_ update: LocalUpdate, plan: TrainingPlan) -> [String: Double] {
        var metrics = update.accounting
        if !keepsScoresLocal(plan) { metrics.merge(update.received) { a, _ in a } }
        return metrics.filter { $0.value.isFinite }
    }
}
