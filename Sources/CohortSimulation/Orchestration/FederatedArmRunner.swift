import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTensor
import Foundation

/// Runs one federated arm as real processes on loopback: a `cohort coordinator` and one
/// `cohort node` per hospital, then reads the coordinator's journal into an `ArmResult`.
struct FederatedArmRunner {
    let executable: String
    let arm: SimulationArm
    let config: SimulationConfig
    let sites: [SimulatedSite]
    let sourceCheckpoint: String
    /// The arm's folder (plan, secrets, logs, coordinator journal).
    let directory: String
    /// The `fedavg-lora` arm's LoRA configuration and the prefixes it also trains (the head).
    var lora: LoRASpec? = nil
    var loraTrainablePrefixes: [String]? = nil
    /// Changes to the arm's plan (the Byzantine experiment's strategy and screening).
    var adjustPlan: (@Sendable (inout TrainingPlan) -> Void)? = nil
    /// Extra `cohort node` arguments per hospital name (a hostile site's `--test-attack`).
    var nodeArguments: [String: [String]] = [:]
    /// Extra `cohort coordinator` arguments (the Byzantine experiment's `--quorum`).
    var coordinatorArguments: [String] = []

    /// The plan the coordinator hands the nodes.
    var plan: TrainingPlan {
        var plan = TrainingPlan()
        plan.localEpochs = config.localEpochs
        plan.batchSize = config.batchSize
        plan.learningRate = config.learningRate
        plan.momentum = config.momentum
        plan.seed = config.seed
        switch arm {
        case .fedprox: plan.strategy = "fedprox"; plan.proximalMu = config.proximalMu
        case .fedbn: plan.strategy = "fedbn"
        case .fedavgAdaBN:
            plan.strategy = "fedavg"
            plan.adaptation = AdaptationPlan(method: "adabn", appliesTo: "few-labels")
        case .fedbnAdaBN, .fedbnAdaBNGuard:
            plan.strategy = "fedbn"
            plan.adaptation = AdaptationPlan(method: "adabn", appliesTo: "few-labels", negativeTransferGuard: arm == .fedbnAdaBNGuard)
        case .fedavgCompressed, .fedbnCompressed:
            plan.strategy = arm == .fedbnCompressed ? "fedbn" : "fedavg"
            plan.codec = DeltaCodecConfig(topKFraction: config.compressedTopK, quantization: .int8(blockSize: 256), zlibLevel: 6)
            plan.codec.denseMaxElements = 64
        case .fedavgDP, .fedavgSecaggDP:
            plan.strategy = "fedavg"
            plan.privacy = PrivacyPlan(clipNorm: config.dpClipNorm, noiseMultiplier: config.dpNoiseMultiplier, delta: config.dpDelta,
                                       targetEpsilon: config.dpNoiseMultiplier == nil ? config.dpEpsilon : nil,
                                       mode: arm == .fedavgSecaggDP ? .distributed : .central)
            plan.trainablePrefixes = config.dpTrainablePrefixes.isEmpty ? nil : config.dpTrainablePrefixes
            if arm == .fedavgSecaggDP { plan.secureAggregation = SecureAggregationPlan() }
        case .fedavgSecagg:
            plan.strategy = "fedavg"
            plan.secureAggregation = SecureAggregationPlan()
        case .fedavgLoRA:
            plan.strategy = "fedavg"
            plan.lora = lora
            plan.trainablePrefixes = loraTrainablePrefixes
        case .fedavgFT:
            plan.strategy = "fedavg"
            plan.personalization = PersonalizationPlan(method: "fedavg-ft")
        case .ditto:
            plan.strategy = "fedavg"
            plan.personalization = PersonalizationPlan(method: "ditto")
            plan.personalization?.lambda = config.dittoLambda
        case .fedrep:
            plan.strategy = "fedavg"
            plan.personalization = PersonalizationPlan(method: "fedrep", personalPrefixes: ["head"])
        default: plan.strategy = "fedavg"
        }
        adjustPlan?(&plan)
        return plan
    }

    /// Runs the arm; `progress(roundsDone, message)` is called as rounds complete.
    func run(progress: (Int, String) -> Void) throws -> ArmResult {
        let started = Date()
        let fm = FileManager.default
        try? fm.removeItem(atPath: directory)
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = { (name: String) in (directory as NSString).appendingPathComponent(name) }
        let planData = try JSONEncoder().encode(plan)
        try planData.write(to: URL(fileURLWithPath: path("plan.json")))
        // Per-node secrets from the system's CSPRNG, readable only by this user.
        var secretLines = ""
        for site in sites {
            var rng = SystemRandomNumberGenerator()
            let hex = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &rng)) }.joined()
            secretLines += "\(site.name) \(hex)\n"
            fm.createFile(atPath: path("\(site.name).secret"), contents: Data((hex + "\n").utf8), attributes: [.posixPermissions: 0o600])
        }
        fm.createFile(atPath: path("secrets.txt"), contents: Data(secretLines.utf8), attributes: [.posixPermissions: 0o600])
        let journal = path("coordinator")
        let coordinator = try ChildProcess(
            name: "\(arm.rawValue) coordinator", executable: executable,
            arguments: ["coordinator", "--model", sourceCheckpoint, "--plan", path("plan.json"), "--secrets", path("secrets.txt"),
                        "--listen", "127.0.0.1:0", "--port-file", path("port"), "--rounds", "\(config.rounds)",
                        "--min-nodes", "\(sites.count)", "--round-timeout", "\(config.roundTimeout)", "--wait", "60",
                        "--out", journal, "--insecure"] + (config.fullModels ? ["--full-models"] : []) + coordinatorArguments,
            logPath: path("coordinator.log"))
        var nodes: [ChildProcess] = []
        defer {
            coordinator.stop()
            for node in nodes { node.stop() }
        }
        let port = try waitForPort(path("port"), coordinator: coordinator)
        for (i, site) in sites.enumerated() {
            nodes.append(try ChildProcess(
                name: "\(arm.rawValue) node \(site.name)", executable: executable,
                arguments: ["node", "--coordinator", "127.0.0.1:\(port)", "--name", site.name, "--secret-file", path("\(site.name).secret"),
                            "--data", site.trainPath, "--test", site.testPath, "--seed", "\(config.seed &+ UInt64(i))", "--insecure",
                            // The simulated hospitals report their scores to the coordinator under every arm (under
                            // secure aggregation they would otherwise keep them), so every arm's curves can be drawn.
                            "--share-metrics"] + (config.schema.map { ["--schema", $0] } ?? []) + (nodeArguments[site.name] ?? []),
                logPath: path("\(site.name).log")))
        }
        var reported = 0
        let deadline = Date().addingTimeInterval(Double(config.rounds) * (config.roundTimeout + 30) + 120)
        while coordinator.isRunning {
            guard Date() < deadline else { throw SimulationError("\(arm.rawValue): the coordinator did not finish in time (log: \(path("coordinator.log")))") }
            if let crashed = nodes.first(where: { !$0.isRunning && $0.exitStatus != 0 }) {
                throw SimulationError("\(crashed.name) failed with status \(crashed.exitStatus) (log: \(crashed.logPath))\n\(crashed.logTail())")
            }
            let records = (try? Coordinator.loadRoundRecords(outDir: journal)) ?? []
            while reported < records.count {
                reported += 1
                progress(reported, Self.describe(records[reported - 1]))
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        guard coordinator.exitStatus == 0 else {
            throw SimulationError("\(arm.rawValue) coordinator failed with status \(coordinator.exitStatus) (log: \(path("coordinator.log")))\n\(coordinator.logTail())")
        }
        for node in nodes where !node.wait(timeout: 10) { node.stop() }
        let records = try Coordinator.loadRoundRecords(outDir: journal)
        let evaluation = try EvaluationRecord.load(outDir: journal)
        return try result(records: records, evaluation: evaluation, seconds: Date().timeIntervalSince(started))
    }

    private func waitForPort(_ file: String, coordinator: ChildProcess) throws -> UInt16 {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: file, encoding: .utf8), let port = UInt16(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                return port
            }
            guard coordinator.isRunning else {
                throw SimulationError("\(coordinator.name) exited with status \(coordinator.exitStatus) before listening (log: \(coordinator.logPath))\n\(coordinator.logTail())")
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw SimulationError("\(coordinator.name) did not start listening within 30 s (log: \(coordinator.logPath))")
    }

    /// Per hospital, the final evaluation's global and personal scores (`global_test_accuracy`,
    /// `personal_test_accuracy`, `ft_epoch`, ...) of a personalised arm.
    static func personalMetrics(evaluation: EvaluationRecord, sites: [String]) -> [String: [String: Double]] {
        var out: [String: [String: Double]] = [:]
        for site in sites {
            out[site] = (evaluation.nodes[site] ?? [:]).filter { $0.key.hasPrefix("global_") || $0.key.hasPrefix("personal_") || $0.key.hasPrefix("ft_") }
        }
        return out
    }

    /// "ε = X at δ = D after R rounds", as the DP arm's description and the findings say it.
    static func privacySummary(epsilon: Double, delta: Double, rounds: Int) -> String {
        String(format: "ε = %.4g at δ = %g after %d rounds", epsilon, delta, rounds)
    }

    /// One progress line: the accuracy each hospital measured on the model it received.
    static func describe(_ r: Coordinator.RoundRecord) -> String {
        let perSite = r.nodeMetrics.keys.sorted().compactMap { name in
            (r.nodeMetrics[name]?["test_accuracy"] ?? r.nodeMetrics[name]?["test_r2"]).map { "\(name) \(String(format: "%.2f", $0))" }
        }
        return "\(r.accepted.count)/\(r.participants.count) updates, \(ValueFormat.bytes(Double(r.bytesUp))) up"
            + (r.epsilon.map { String(format: ", ε = %.4g", $0) } ?? "")
            + (perSite.isEmpty ? "" : "; received model: " + perSite.joined(separator: ", "))
    }

    /// Turns the journal into the arm's result. The model at the end of round r is scored by
    /// the nodes when they receive it in round r + 1, and after the last round by EVALUATE.
    func result(records: [Coordinator.RoundRecord], evaluation: EvaluationRecord, seconds: Double) throws -> ArmResult {
        var rounds: [RoundRecord] = []
        for (i, r) in records.enumerated() {
            var accuracy: [String: Double] = [:]
            for site in sites {
                let m = i + 1 < records.count ? records[i + 1].nodeMetrics[site.name] : evaluation.nodes[site.name]
                // A regression run's curves are R².
                accuracy[site.name] = m?["test_accuracy"] ?? m?["test_r2"] ?? .nan
            }
            rounds.append(RoundRecord(round: r.round, perSiteAccuracy: accuracy, bytesUp: r.bytesUp, bytesDown: r.bytesDown,
                                      seconds: r.seconds, participants: r.accepted.count))
        }
        let perSite = sites.map { site -> SiteScore in
            let m = evaluation.nodes[site.name]
            if let r2 = m?["test_r2"] {
                return SiteScore(site: site.name, mae: m?["test_mae"] ?? .nan, rmse: m?["test_rmse"] ?? .nan, r2: r2, samples: Int(m?["test_samples"] ?? 0))
            }
            return SiteScore(site: site.name, accuracy: m?["test_accuracy"] ?? .nan, balancedAccuracy: m?["test_balanced_accuracy"] ?? .nan,
                             samples: Int(m?["test_samples"] ?? 0))
        }
        let failed = evaluation.failed.isEmpty ? nil : "final evaluation failed at " + evaluation.failed.map { "\($0.key): \($0.value)" }.sorted().joined(separator: "; ")
        var description = arm.summary
        var figures: ArmPrivacy? = nil
        if let privacy = plan.privacy, let last = records.last, let eps = last.epsilon, let sigma = last.noiseMultiplier {
            figures = ArmPrivacy(epsilon: eps, delta: privacy.delta, noiseMultiplier: sigma, clipNorm: privacy.clipNorm, mode: privacy.mode.rawValue)
        }
        if let privacy = plan.privacy {
            let eps = records.last?.epsilon ?? 0
            description += "; " + Self.privacySummary(epsilon: eps, delta: privacy.delta, rounds: records.count)
                + String(format: " (clip C = %g, noise σ = %.3g, q = 1", privacy.clipNorm, records.last?.noiseMultiplier ?? privacy.noiseMultiplier ?? .nan)
                + (plan.trainablePrefixes.map { ", training only \($0.joined(separator: ", "))" } ?? "")
                + (privacy.mode == .distributed ? ", noise added by the hospitals for the threshold \(records.last?.secureAggregationThreshold ?? 0))" : ")")
        }
        if let lora = plan.lora {
            description += "; LoRA rank \(lora.rank), α = \(lora.alpha.map { "\($0)" } ?? "\(lora.rank)") on \(lora.targets.joined(separator: ", "))"
                + (plan.trainablePrefixes.map { ", also training \($0.joined(separator: ", "))" } ?? "")
        }
        return ArmResult(name: arm.rawValue, description: description, federated: true, perSite: perSite, rounds: rounds,
                         bytesUp: records.reduce(0) { $0 + $1.bytesUp }, bytesDown: records.reduce(0) { $0 + $1.bytesDown },
                         wallSeconds: seconds, failed: failed, privacy: figures,
                         siteMetrics: plan.personalization != nil ? Self.personalMetrics(evaluation: evaluation, sites: sites.map(\.name)) : plan.adaptation == nil ? nil : GuardRecords.siteMetrics(records: records, evaluation: evaluation, sites: sites.map(\.name),
                                                                                              guarded: plan.adaptation?.negativeTransferGuard ?? false))
    }
}
