import Foundation

/// The claim a personalised federation must earn: "a personalised federated arm beats
/// local-only at every hospital, and its mean beats the best non-personalised arm". Computed
/// from the arms' test scores (which no node used for any choice: epochs, personal vs global
/// and the guard read validation splits only).
struct PersonalizationClaim {
    /// One personalised arm against the bar.
    struct Check {
        let arm: String
        let mean: Double
        /// Hospitals where the arm does not beat local-only, with both accuracies.
        let sitesNotAbove: [(site: String, arm: Double, local: Double)]
        var beatsLocalEverywhere: Bool { sitesNotAbove.isEmpty }
    }

    let checks: [Check]
    /// The best arm that is neither personalised nor the pooled reference, and its mean.
    let bestOther: (arm: String, mean: Double)
    let localMean: Double

    /// Whether some personalised arm clears both bars.
    var holds: Bool { checks.contains { $0.beatsLocalEverywhere && $0.mean > bestOther.mean } }

    /// The claim over `arms`; nil without local-only, a personalised arm, or another arm to compare with.
    init?(_ arms: [ArmResult]) {
        let done = arms.filter { $0.failed == nil && !$0.perSite.isEmpty }
        let personalNames = Set(SimulationArm.personalised.map(\.rawValue))
        guard let local = done.first(where: { $0.name == SimulationArm.localOnly.rawValue }) else { return nil }
        let others = done.filter { !personalNames.contains($0.name) && $0.name != SimulationArm.pooled.rawValue && $0.meanAccuracy.isFinite }
        guard let best = others.max(by: { $0.meanAccuracy < $1.meanAccuracy }) else { return nil }
        let personal = done.filter { personalNames.contains($0.name) }
        guard !personal.isEmpty else { return nil }
        checks = personal.map { arm in
            let below = local.perSite.compactMap { l -> (String, Double, Double)? in
                let a = arm.score(site: l.site)?.accuracy ?? .nan
                return a > l.accuracy ? nil : (l.site, a, l.accuracy)
            }
            return Check(arm: arm.name, mean: arm.meanAccuracy, sitesNotAbove: below)
        }
        bestOther = (best.name, best.meanAccuracy)
        localMean = local.meanAccuracy
    }

    /// The report's note: HOLDS or DOES NOT HOLD, with every personalised arm's numbers.
    var note: String {
        func pct(_ x: Double) -> String { String(format: "%.1f%%", x * 100) }
        let parts = checks.map { c in
            "\(c.arm) mean \(pct(c.mean)) (" + (c.mean > bestOther.mean ? "above" : "not above") + " \(bestOther.arm)), "
                + (c.beatsLocalEverywhere ? "above local-only at every hospital"
                   : "not above local-only at " + c.sitesNotAbove.map { "\($0.site) \(pct($0.arm)) vs \(pct($0.local))" }.joined(separator: ", "))
        }
        return "A personalised federated arm beats local-only at every hospital, and its mean beats the best non-personalised arm "
            + "(\(bestOther.arm), \(pct(bestOther.mean)); local-only \(pct(localMean))): \(holds ? "HOLDS" : "DOES NOT HOLD") — "
            + parts.joined(separator: "; ") + ". Scores are test accuracy; every choice at the nodes (fine-tuning epoch, guard) read validation data only."
    }
}
