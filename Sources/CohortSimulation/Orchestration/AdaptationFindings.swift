import Foundation

/// The adaptation claims a simulation tests, checked against the measured results: the
/// per-site shift, whether each `source+<method>` arm raises source-only accuracy at the
/// scanner-shifted hospitals, what the plan's AdaBN step buys the mostly-unlabelled hospital
/// under FedBN, and whether the negative-transfer guard ever kept a worse model.
public enum AdaptationFindings {
    /// A hospital counts as scanner-shifted when the source model scores at least this much
    /// lower there than on the source domain's validation data.
    public static let shiftedDrop = 0.05

    /// One line per claim whose arms ran (see the type's summary), each saying HOLDS or DOES NOT
    /// HOLD with the numbers. Guard lines read the arms' `siteMetrics` (`guard_checks`,
    /// `guard_checks_below_best`, `guard_kept_*`, `guard_winner`, ...).
    public static func notes(_ arms: [ArmResult], sites: [SiteInfo], sourceAccuracy: Double?, shift: ShiftView?) -> [String] {
        func arm(_ a: SimulationArm) -> ArmResult? { arms.first { $0.name == a.rawValue && $0.failed == nil && !$0.perSite.isEmpty } }
        func pct(_ x: Double) -> String { String(format: "%.1f%%", x * 100) }
        func verdict(_ ok: Bool) -> String { ok ? "HOLDS" : "DOES NOT HOLD" }
        var notes: [String] = []
        let source = arm(.sourceOnly)
        let shifted = source.flatMap { s in sourceAccuracy.map { acc in s.perSite.filter { acc - $0.accuracy >= shiftedDrop }.map(\.site) } } ?? []
        if let shift, !shift.perSite.isEmpty {
            notes.append("Domain shift of each hospital's features from the source's (source model, all but the head): "
                         + shift.perSite.map { String(format: "%@ MMD %.3g, proxy A-distance %.2f", $0.site, $0.mmd, $0.proxyADistance) }.joined(separator: "; ")
                         + (shifted.isEmpty ? "." : "; scanner-shifted (source-only ≥ \(Int(shiftedDrop * 100)) points below the source domain): \(shifted.joined(separator: ", "))."))
        }
        let methods: [(SimulationArm, String, String)] = [
            (.sourceAdaBN, "AdaBN", "without labels"), (.sourceTENT, "TENT", "without labels"), (.sourceSHOT, "SHOT", "without labels or source data"),
            (.sourceDANN, "DANN", "with the labelled source data, without hospital labels"),
            (.sourceCORAL, "Deep CORAL", "with the labelled source data, without hospital labels"),
        ]
        if let source, !shifted.isEmpty {
            for (a, label, how) in methods {
                guard let adapted = arm(a) else { continue }
                let parts = shifted.map { site -> (String, Bool, Double, Double) in
                    let b = source.score(site: site)?.accuracy ?? .nan, x = adapted.score(site: site)?.accuracy ?? .nan
                    return (String(format: "%@ %@ → %@ (%+.1f)", site, pct(b), pct(x), (x - b) * 100), x > b, b, x)
                }
                let others = source.perSite.map(\.site).filter { !shifted.contains($0) }.map { site in
                    "\(site), not shifted: \(pct(source.score(site: site)?.accuracy ?? .nan)) → \(pct(adapted.score(site: site)?.accuracy ?? .nan))"
                }
                let before = parts.map(\.2).reduce(0, +) / Double(parts.count), after = parts.map(\.3).reduce(0, +) / Double(parts.count)
                notes.append("\(label) raises source-only accuracy at every scanner-shifted hospital \(how): \(verdict(parts.allSatisfy(\.1))) — "
                             + parts.map(\.0).joined(separator: "; ") + "; mean over them \(pct(before)) → \(pct(after))"
                             + (others.isEmpty ? "" : " (\(others.joined(separator: "; ")))") + ".")
            }
        }
        let sparse = sites.filter { $0.trainUnlabelled > 0 }.max { unlabelledShare($0) < unlabelledShare($1) }
        for (stepArm, plainArm) in [(SimulationArm.fedavgAdaBN, SimulationArm.fedavg), (.fedbnAdaBN, .fedbn)] {
            guard let withStep = arm(stepArm), let plain = arm(plainArm), let sparse else { continue }
            let x = withStep.score(site: sparse.name)?.accuracy ?? .nan, b = plain.score(site: sparse.name)?.accuracy ?? .nan
            let received = withStep.siteMetrics?[sparse.name]?["received_test_accuracy"]
            notes.append("\(withStep.name) beats \(plain.name) at \(sparse.name), the hospital with the fewest labels (\(sparse.trainLabelled) of \(sparse.trainLabelled + sparse.trainUnlabelled) training scans labelled): "
                         + "\(verdict(x > b)) — \(pct(x)) vs \(pct(b))" + (received.map { " (the received model before its final AdaBN step: \(pct($0)))" } ?? "")
                         + String(format: "; mean over hospitals %@ vs %@.", pct(withStep.meanAccuracy), pct(plain.meanAccuracy)))
        }
        if let guarded = arms.first(where: { $0.failed == nil && ($0.siteMetrics?.values.contains { ($0["guard_checks"] ?? 0) > 0 } ?? false) }),
           let metrics = guarded.siteMetrics {
            let names = guarded.perSite.map(\.site)
            let checks = names.reduce(0.0) { $0 + (metrics[$1]?["guard_checks"] ?? 0) }
            let below = names.reduce(0.0) { $0 + (metrics[$1]?["guard_checks_below_best"] ?? 0) }
            let finals = names.compactMap { site -> String? in
                guard let m = metrics[site], let w = m["guard_winner"], let gain = m["guard_gain_over_incoming"] else { return nil }
                let winner = ["incoming", "adapted", "scratch"][min(max(Int(w), 0), 2)]
                return String(format: "%@ kept %@ (%+.1f points over incoming; incoming %@, scratch %@)", site, winner, gain * 100,
                              pct(m["guard_incoming_val"] ?? .nan), pct(m["guard_scratch_val"] ?? .nan))
            }
            let kept = ["incoming", "adapted", "scratch"].map { k in "\(Int(names.reduce(0.0) { $0 + (metrics[$1]?["guard_kept_\(k)"] ?? 0) })) \(k)" }
            notes.append("The negative-transfer guard (\(guarded.name): every node, every round and the final model) never ends below the better of the incoming "
                         + "and the from-scratch model on the node's validation split: \(verdict(checks > 0 && below == 0)) — \(Int(checks)) checks, \(Int(below)) below; "
                         + "kept \(kept.joined(separator: ", ")); final: " + finals.joined(separator: "; ") + "."
                         + (arm(.fedbnAdaBN).map { " On test data: \(pct(guarded.meanAccuracy)) mean vs \(pct($0.meanAccuracy)) for fedbn+adabn without the guard." } ?? ""))
        }
        return notes
    }

    private static func unlabelledShare(_ s: SiteInfo) -> Double {
        Double(s.trainUnlabelled) / Double(max(s.trainLabelled + s.trainUnlabelled, 1))
    }
}
