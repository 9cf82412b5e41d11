import CohortFederation

/// Gathers what the nodes of a federated arm with a local adaptation step reported: the final
/// evaluation's adaptation and guard metrics, and over every round and the final evaluation
/// how often the guard kept each candidate and whether the kept model ever scored below the
/// better of incoming and scratch on the node's validation split.
enum GuardRecords {
    /// How far below `max(incoming, scratch)` a kept score may be and still count as not worse
    /// (float rounding of accuracies).
    static let tolerance = 1e-6

    /// `guarded`: whether the plan ran the guard (else only the adaptation metrics are kept).
    static func siteMetrics(records: [Coordinator.RoundRecord], evaluation: EvaluationRecord, sites: [String], guarded: Bool) -> [String: [String: Double]] {
        var out: [String: [String: Double]] = [:]
        for site in sites {
            var m = (evaluation.nodes[site] ?? [:]).filter { $0.key.hasPrefix("guard_") || $0.key.hasPrefix("adaptation_") || $0.key == "received_test_accuracy" }
            var checks = 0, below = 0
            var kept = [0.0, 0.0, 0.0]   // incoming, adapted, scratch
            // Each round's UPDATE reports the guard's own scores; the final EVAL_RESULT also
            // reports `val_accuracy`, measured separately on the model the node ended up using.
            let rounds = records.compactMap { $0.nodeMetrics[site] }.map { ($0, $0["guard_kept_val"]) }
            let final = evaluation.nodes[site].map { [($0, $0["val_accuracy"])] } ?? []
            for (metrics, keptScore) in rounds + final {
                guard let keptScore, let incoming = metrics["guard_incoming_val"], let scratch = metrics["guard_scratch_val"],
                      let winner = metrics["guard_winner"] else { continue }
                checks += 1
                if keptScore < max(incoming, scratch) - tolerance { below += 1 }
                if (0...2).contains(Int(winner)) { kept[Int(winner)] += 1 }
            }
            if let v = evaluation.nodes[site]?["val_accuracy"] { m["final_val_accuracy"] = v }
            guard guarded else { out[site] = m; continue }
            m["guard_checks"] = Double(checks)
            m["guard_checks_below_best"] = Double(below)
            m["guard_kept_incoming"] = kept[0]
            m["guard_kept_adapted"] = kept[1]
            m["guard_kept_scratch"] = kept[2]
            out[site] = m
        }
        return out
    }
}
