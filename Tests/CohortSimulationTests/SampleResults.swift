import Foundation
import CohortSimulation

/// Made-up results shaped like a real `cohort simulate` run, for tests and for looking at the
/// rendered report. Not measured: every number comes from a seeded formula below.
enum SampleResults {
    /// A deterministic stream of values in [0, 1).
    struct Noise {
        var state: UInt64
        mutating func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53)
        }
        /// Roughly normal (sum of uniforms), mean 0, standard deviation about `scale`.
        mutating func normal(_ scale: Double) -> Double {
            (next() + next() + next() + next() - 2) * scale * 1.73
        }
    }

    static let siteNames = ["north-general", "riverside", "st-marys", "lakeside-clinic"]

    /// A full run: 4 sites, 7 arms (5 federated), `rounds` rounds, a shift view.
    static func make(rounds: Int = 20, siteNames: [String] = siteNames, seed: UInt64 = 42) -> SimulationResults {
        var noise = Noise(state: seed)
        let sites = siteNames.enumerated().map { i, name in
            SiteInfo(name: name, trainLabelled: 400 - 60 * i, trainUnlabelled: 1_200 + 150 * i, test: 300,
                     prevalence: [0.7 - 0.08 * Double(i), 0.3 + 0.08 * Double(i)],
                     scanner: ["contrast": 1 + 0.15 * Double(i), "noise": 0.02 * Double(i + 1),
                               "blur": 0.5 * Double(i % 2)])
        }
        let modelBytes = 4_812_544  // about 1.2M float32 parameters
        // (name, description, federated, final mean accuracy, start accuracy, upload fraction)
        let specs: [(String, String, Bool, Double, Double, Double)] = [
            ("source-only", "Pre-trained model evaluated as is, no adaptation.", false, 0.64, 0, 0),
            ("local-only", "Each site fine-tunes alone on its own labelled data.", false, 0.74, 0, 0),
            ("fedavg", "Federated averaging of full fine-tuning deltas.", true, 0.83, 0.62, 1),
            ("fedprox", "FedAvg with a proximal term (mu = 0.01) against client drift.", true, 0.84, 0.62, 1),
            ("fedbn", "FedAvg that keeps batch-norm statistics local to each site.", true, 0.87, 0.63, 1),
            ("fedavg-compressed", "FedAvg with top-1% sparsified, 8-bit quantised deltas.", true, 0.81, 0.61, 0.012),
            ("pooled", "All sites' data pooled centrally (privacy-violating upper bound).", false, 0.89, 0, 0),
        ]
        let arms = specs.map { name, description, federated, final, start, upFraction in
            let siteBias = siteNames.indices.map { i in -0.05 * Double(i) + 0.06 + noise.normal(0.01) }
            let perSite = siteNames.enumerated().map { i, site in
                let accuracy = min(0.99, final + siteBias[i])
                return SiteScore(site: site, accuracy: accuracy, balancedAccuracy: accuracy - 0.03 - 0.01 * Double(i),
                                 samples: 300)
            }
            var records: [RoundRecord] = []
            if federated {
                for r in 1...rounds {
                    let progress = 1 - exp(-4 * Double(r) / Double(rounds))
                    let mean = start + (final - start) * progress / (1 - exp(-4))
                    let perSiteAccuracy = Dictionary(uniqueKeysWithValues: siteNames.enumerated().map { i, site in
                        (site, min(0.99, mean + siteBias[i] + noise.normal(0.008)))
                    })
                    records.append(RoundRecord(round: r, perSiteAccuracy: perSiteAccuracy,
                                               bytesUp: Int(Double(modelBytes * siteNames.count) * upFraction),
                                               bytesDown: modelBytes * siteNames.count,
                                               seconds: 2.4 + noise.next(), participants: siteNames.count))
                }
            }
            let seconds = federated ? records.reduce(0) { $0 + $1.seconds } : (name == "pooled" ? 31.5 : 9.2)
            return ArmResult(name: name, description: description, federated: federated, perSite: perSite,
                             rounds: records, bytesUp: records.reduce(0) { $0 + $1.bytesUp },
                             bytesDown: records.reduce(0) { $0 + $1.bytesDown }, wallSeconds: seconds)
        }

        var points: [ShiftPoint] = []
        let domains = ["source"] + siteNames
        for (d, domain) in domains.enumerated() {
            let angle = Double(d) * 1.3
            let centre = (d == 0 ? 0 : 2.5 + 0.8 * Double(d)) * cos(angle)
            let centreY = (d == 0 ? 0 : 1.5 + 0.5 * Double(d)) * sin(angle)
            for k in 0..<60 {
                let label = k % 3 == 0 ? 1 : 0
                points.append(ShiftPoint(site: domain, x: centre + Double(label) * 1.6 + noise.normal(0.6),
                                         y: centreY - Double(label) * 0.8 + noise.normal(0.45), label: label))
            }
        }
        let shift = ShiftView(points: points, explainedVariance: [0.412, 0.187],
                              perSite: siteNames.enumerated().map { i, site in
                                  SiteShift(site: site, mmd: 0.04 + 0.05 * Double(i), meanFeatureNorm: 11.8 + 0.9 * Double(i))
                              })
        return SimulationResults(
            title: "Sample report (made-up numbers)", kind: "imaging", seed: seed, quick: false, rounds: rounds,
            settings: ["model": "resnet-mini (1.2M parameters)", "local epochs": "2", "learning rate": "0.01",
                       "batch size": "32", "codec": "top-k 1% + int8 (fedavg-compressed only)",
                       "sites per round": "all"],
            sites: sites, arms: arms, shift: shift, startedAt: "2025-06-01T09:30:00Z",
            wallSeconds: arms.reduce(0) { $0 + $1.wallSeconds } + 4.2,
            notes: ["These numbers are invented by the test fixture; they show the layout, not a result."])
    }
}

extension SampleResults {
    /// A crowded run for checking layout limits: 7 sites (long and hostile names), 10 arms (the
    /// palette repeats), a failed arm with partial rounds, NaN accuracies.
    static func crowded() -> SimulationResults {
        let names = ["north-general", "riverside-university-hospital", "a<b&\"c", "st-marys", "lakeside-clinic",
                     "eastbrook", "west-valley-medical-centre"]
        var results = make(rounds: 12, siteNames: names, seed: 7)
        results.title = "Crowded sample <with> & \"escapes\" (made-up numbers)"
        let extra = ["fedadam", "scaffold", "ditto"]
        for (k, name) in extra.enumerated() {
            var arm = results.arms[2 + k]
            arm.name = name
            arm.description = "Extra arm \(name) to make the palette repeat."
            arm.perSite = arm.perSite.map { var s = $0; s.accuracy -= 0.02 * Double(k + 1); return s }
            arm.rounds = arm.rounds.map { record in
                var r = record
                r.perSiteAccuracy = r.perSiteAccuracy.mapValues { $0 - 0.025 * Double(k + 1) }
                return r
            }
            results.arms.append(arm)
        }
        results.arms[3].failed = "node eastbrook: connection reset by peer after 300 s (round 6 of 12)"
        results.arms[3].rounds = Array(results.arms[3].rounds.prefix(5))
        results.arms[3].bytesUp = results.arms[3].rounds.reduce(0) { $0 + $1.bytesUp }
        results.arms[3].bytesDown = results.arms[3].rounds.reduce(0) { $0 + $1.bytesDown }
        results.arms[3].perSite = []
        results.arms[2].perSite[2].accuracy = .nan
        results.arms[4].rounds[6].perSiteAccuracy = results.arms[4].rounds[6].perSiteAccuracy.mapValues { _ in .nan }
        results.quick = true
        results.notes.append("fedprox failed; its five completed rounds are still drawn.")
        return results
    }

    /// The smallest run: one site, one round, no shift view, no bytes recorded.
    static func minimal() -> SimulationResults {
        var results = make(rounds: 1, siteNames: ["only-site"], seed: 3)
        results.title = "Minimal sample (made-up numbers)"
        results.shift = nil
        results.arms = results.arms.map { var a = $0; a.bytesUp = 0; a.bytesDown = 0; return a }
        results.settings = [:]
        results.notes = []
        return results
    }
}
