import Foundation

/// The claims a simulation is meant to test, checked against the measured results; each
/// note says whether the claim held, with the numbers.
enum Findings {
    static func notes(_ arms: [ArmResult], sites: [SiteInfo], sourceAccuracy: Double?) -> [String] {
        func arm(_ a: SimulationArm) -> ArmResult? { arms.first { $0.name == a.rawValue && $0.failed == nil && !$0.perSite.isEmpty } }
        func pct(_ x: Double) -> String { String(format: "%.1f%%", x * 100) }
        func verdict(_ ok: Bool) -> String { ok ? "HOLDS" : "DOES NOT HOLD" }
        var notes: [String] = []
        if let source = arm(.sourceOnly), let sourceAccuracy {
            let drops = source.perSite.map { (site: $0.site, drop: sourceAccuracy - $0.accuracy) }
            let worst = drops.max { $0.drop < $1.drop }
            notes.append("Source-only loses accuracy at shifted hospitals: \(verdict((worst?.drop ?? 0) > 0.02)) — \(pct(sourceAccuracy)) on the source domain's validation data, "
                         + "\(pct(source.meanAccuracy)) mean over hospitals" + (worst.map { ", largest drop \(pct($0.drop)) at \($0.site)" } ?? "") + ".")
        }
        if let source = arm(.sourceOnly), let fed = arm(.fedavg) {
            notes.append("FedAvg beats source-only on average: \(verdict(fed.meanAccuracy > source.meanAccuracy)) — \(pct(fed.meanAccuracy)) vs \(pct(source.meanAccuracy)).")
        }
        if let local = arm(.localOnly) {
            let smallest = sites.sorted { $0.trainLabelled < $1.trainLabelled }.prefix(2).map(\.name)
            for federated in [SimulationArm.fedavg, .fedbn] {
                guard let fed = arm(federated) else { continue }
                let parts = smallest.map { name -> (String, Bool) in
                    let f = fed.score(site: name)?.accuracy ?? .nan, l = local.score(site: name)?.accuracy ?? .nan
                    return ("\(name) \(pct(f)) vs \(pct(l))", f > l)
                }
                notes.append("\(fed.name) beats local-only at the two hospitals with the fewest labels: \(verdict(parts.allSatisfy(\.1))) — "
                             + parts.map(\.0).joined(separator: "; ") + ".")
            }
        }
        if let bn = arm(.fedbn), let fed = arm(.fedavg) {
            notes.append("FedBN is at least as good as FedAvg under scanner shift: \(verdict(bn.meanAccuracy >= fed.meanAccuracy)) — \(pct(bn.meanAccuracy)) vs \(pct(fed.meanAccuracy)).")
        }
        for (compressed, plain) in [(SimulationArm.fedavgCompressed, SimulationArm.fedavg), (.fedbnCompressed, .fedbn)] {
            guard let small = arm(compressed), let full = arm(plain), small.bytesUp > 0 else { continue }
            let ratio = Double(full.bytesUp) / Double(small.bytesUp)
            let gap = full.meanAccuracy - small.meanAccuracy
            notes.append("\(small.name) sends ≥ 50× fewer bytes up than \(full.name) within 1 point of its accuracy: \(verdict(ratio >= 50 && gap <= 0.01)) — "
                         + String(format: "%.1f× fewer bytes up (%@ vs %@), accuracy %@ vs %@.", ratio, ValueFormat.bytes(Double(small.bytesUp)),
                                  ValueFormat.bytes(Double(full.bytesUp)), pct(small.meanAccuracy), pct(full.meanAccuracy)))
        }
        if let lora = arm(.fedavgLoRA), let full = arm(.fedavg), lora.bytesUp > 0 {
            let ratio = Double(full.bytesUp) / Double(lora.bytesUp)
            let gap = full.meanAccuracy - lora.meanAccuracy
            let rounds = Double(max(lora.rounds.count, 1)), fullRounds = Double(max(full.rounds.count, 1))
            notes.append("fedavg-lora sends ≥ 10× fewer bytes up than fedavg (full fine-tuning) within 2 points of its accuracy: \(verdict(ratio >= 10 && gap <= 0.02)) — "
                         + String(format: "%.1f× fewer bytes up (%@ vs %@ per round; down %@ vs %@ per round), accuracy %@ vs %@.", ratio,
                                  ValueFormat.bytes(Double(lora.bytesUp) / rounds), ValueFormat.bytes(Double(full.bytesUp) / fullRounds),
                                  ValueFormat.bytes(Double(lora.bytesDown) / rounds), ValueFormat.bytes(Double(full.bytesDown) / fullRounds),
                                  pct(lora.meanAccuracy), pct(full.meanAccuracy)))
        }
        for dpArm in [SimulationArm.fedavgDP, .fedavgSecaggDP] {
            guard let dp = arm(dpArm) else { continue }
            let privacy = dp.privacy.map { FederatedArmRunner.privacySummary(epsilon: $0.epsilon, delta: $0.delta, rounds: dp.rounds.count) } ?? "ε not recorded"
            notes.append("\(dp.name): \(privacy), accuracy \(pct(dp.meanAccuracy)) vs fedavg " + (arm(.fedavg).map { pct($0.meanAccuracy) } ?? "not run")
                         + (arm(.sourceOnly).map { ", source-only \(pct($0.meanAccuracy))" } ?? "") + ".")
        }
        if let secure = arm(.fedavgSecagg), let plain = arm(.fedavg), plain.bytesUp > 0 {
            let gap = abs(secure.meanAccuracy - plain.meanAccuracy)
            notes.append("fedavg-secagg matches fedavg's accuracy within 1 point (masks cancel exactly; only fixed-point rounding differs): \(verdict(gap <= 0.01)) — "
                         + "\(pct(secure.meanAccuracy)) vs \(pct(plain.meanAccuracy)), "
                         + String(format: "%.2f× the bytes up (%@ vs %@).", Double(secure.bytesUp) / Double(plain.bytesUp),
                                  ValueFormat.bytes(Double(secure.bytesUp)), ValueFormat.bytes(Double(plain.bytesUp))))
        }
        if let claim = PersonalizationClaim(arms) { notes.append(claim.note) }
        if let pooled = arm(.pooled) {
            notes.append("Pooled fine-tuning (all labels in one place, which federation exists to avoid) reaches \(pct(pooled.meanAccuracy)) mean accuracy: the reference the federated arms approach.")
        }
        return notes
    }
}
