import CohortAdapt
import CohortCheckpoint
import CohortData
import CohortNN
import CohortTensor
import Foundation

/// `cohort simulate`: generates hospitals with domain shift, pre-trains on the source domain
/// (cached), scores the source model at every hospital, runs each arm (federated arms as a
/// coordinator and node processes on loopback, fine-tunes as `cohort pretrain` processes),
/// and writes the report.
public struct SimulationRunner {
    public let config: SimulationConfig
    /// The `cohort` executable the arms' processes run.
    public let executable: String
    /// Progress lines for the terminal.
    public let log: (String) -> Void

    public init(config: SimulationConfig, executable: String, log: @escaping (String) -> Void) {
        self.config = config
        self.executable = executable
        self.log = log
    }

    func path(_ parts: String...) -> String {
        parts.reduce(config.out) { ($0 as NSString).appendingPathComponent($1) }
    }

    /// Runs everything and returns the results (also written to `config.out`).
    public func run() throws -> SimulationResults {
        try config.validate()
        let startedAt = ISO8601DateFormatter().string(from: Date())
        let fm = FileManager.default
        try fm.createDirectory(atPath: config.out, withIntermediateDirectories: true)
        try JSONEncoder.pretty.encode(config).write(to: URL(fileURLWithPath: path("config.json")))
        let arms = config.arms.compactMap(SimulationArm.init(rawValue:))
        let epochsPerArm = Double(config.rounds * config.localEpochs)
        var clock = ProgressClock(totalUnits: Double(config.pretrainEpochs) + Double(arms.count) * epochsPerArm)

        log("simulate: generating \(config.sites) \(config.kind) hospitals and the source domain (seed \(config.seed)\(config.quick ? ", quick" : ""))")
        let cohort = try CohortPreparation.generate(config: config, into: path("data"))
        for info in cohort.siteInfos {
            log("  \(info.name): \(info.trainLabelled) labelled + \(info.trainUnlabelled) unlabelled training, \(info.test) test")
        }
        if let backbone = try backbone() {
            let parameters = try Sequential(spec: try modelSpec(cohort: cohort), seed: 0).parameterCount
            log("simulate: model \(backbone.label) on \(cohort.modelInputShape.map(String.init).joined(separator: "x")) inputs, "
                + "\(cohort.classes) classes, \(parameters) parameters (set the size with --preset-options)")
        }
        if arms.contains(.fedavgLoRA) {
            let lora = try loraSettings()
            log("simulate: fedavg-lora: LoRA rank \(lora.spec.rank) on \(lora.spec.targets.joined(separator: ", ")), also training \(lora.trainablePrefixes.joined(separator: ", "))")
        }
        let source = try pretrainSource(cohort: cohort, clock: &clock)

        var results: [ArmResult] = []
        let sourceCheckpoint = try CheckpointFile.load(source)
        let sourceModel = try sourceCheckpoint.makeModel(path: source)
        // With a schema the CSV files are read through the source model's fitted preprocessing,
        // which the fine-tuned arms' checkpoints carry unchanged (`pretrain --init`).
        let preprocessing = config.schema == nil ? nil : sourceCheckpoint.metadata.preprocessing
        if config.schema != nil && preprocessing == nil { throw SimulationError("\(source): the source model carries no preprocessing for the schema") }
        let read: (String) throws -> LabelledData = { path in try (preprocessing.map { try $0.load(path: path) } ?? SiteData.load(path: path)).labelled }
        let tests = try cohort.sites.map { try read($0.testPath) }
        let sourceValidation = try read(cohort.sourceValidation)
        let regression = sourceValidation.isRegression
        // The source model's score on the source domain: accuracy, or R² for a regression target.
        let sourceAccuracy = regression ? try Inference.regressionReport(sourceModel, sourceValidation).r2
                                        : try Inference.report(sourceModel, sourceValidation).accuracy
        log("simulate: source model \(regression ? "R²" : "accuracy") on the source domain's validation data: \(String(format: "%.3f", sourceAccuracy))")
        for arm in arms {
            let started = Date()
            log("simulate: arm \(arm.rawValue): \(arm.summary)")
            do {
                let result: ArmResult
                switch arm {
                case .sourceOnly:
                    result = try scoreFixed(arm, model: sourceModel, cohort: cohort, tests: tests, seconds: 0)
                case .localOnly:
                    result = try runLocalOnly(cohort: cohort, source: source, tests: tests, clock: &clock)
                case .pooled:
                    result = try runPooled(cohort: cohort, source: source, tests: tests, clock: &clock)
                case _ where arm.adaptationMethod != nil:
                    let runner = AdaptationArmRunner(executable: executable, arm: arm, config: config, sites: cohort.sites, sourceCheckpoint: source,
                                                     sourceTrain: cohort.sourceTrain, directory: path("arms", arm.rawValue))
                    result = try runner.run(tests: tests) { log("  \(arm.rawValue) \($0)") }
                    clock.advance(epochsPerArm)
                default:
                    let lora = arm == .fedavgLoRA ? try loraSettings() : nil
                    let runner = FederatedArmRunner(executable: executable, arm: arm, config: config, sites: cohort.sites,
                                                    sourceCheckpoint: source, directory: path("arms", arm.rawValue),
                                                    lora: lora?.spec, loraTrainablePrefixes: lora?.trainablePrefixes)
                    var roundClock = clock
                    result = try runner.run { round, message in
                        roundClock.advance(Double(config.localEpochs))
                        log("  \(arm.rawValue) round \(round)/\(config.rounds): \(message)  [\(roundClock.eta)]")
                    }
                    clock = roundClock
                }
                if result.isRegression {
                    log("  \(arm.rawValue): mean test MAE \(String(format: "%.4g", result.meanMAE)), RMSE \(String(format: "%.4g", result.meanRMSE)), "
                        + "R² \(String(format: "%.3f", result.meanR2)) (R² " + result.perSite.map { "\($0.site) \(String(format: "%.3f", $0.r2 ?? .nan))" }.joined(separator: ", ")
                        + "), \(ProgressClock.duration(Date().timeIntervalSince(started)))")
                } else {
                    log("  \(arm.rawValue): mean test accuracy \(String(format: "%.3f", result.meanAccuracy)) ("
                        + result.perSite.map { "\($0.site) \(String(format: "%.3f", $0.accuracy))" }.joined(separator: ", ")
                        + "), \(ProgressClock.duration(Date().timeIntervalSince(started)))")
                }
                results.append(result)
            } catch {
                log("  \(arm.rawValue) FAILED: \(error)")
                results.append(ArmResult(name: arm.rawValue, description: arm.summary, federated: arm.isFederated,
                                         perSite: [], rounds: [], bytesUp: 0, bytesDown: 0,
                                         wallSeconds: Date().timeIntervalSince(started), failed: "\(error)"))
            }
        }
        log("simulate: measuring domain shift in the source model's features")
        let shift = config.schema != nil ? nil : try? ShiftAnalysis.measure(model: sourceModel, sourceValidation: cohort.sourceValidation, tests: Array(zip(cohort.sites.map(\.name), tests)),
                                                seed: config.seed)
        log("simulate: ranking the source model against a randomly initialised one with LogME (cohort rank)")
        let spec = try modelSpec(cohort: cohort)
        let logME: String
        if let schema = config.schema {
            logME = "LogME ranking check skipped: the schema's CSV files (\(schema)) are read only through a fitted preprocessing"
        } else { do {
            logME = try TransferabilityCheck(executable: executable, sourceCheckpoint: source, sites: cohort.sites, directory: path("rank"), seed: config.seed)
                .run(architecture: try JSONEncoder.pretty.encode(spec))
        } catch { logME = "LogME ranking check failed: \(error)" } }
        var settings = [
            "model": try backbone().map { "\($0.label) on \(cohort.modelInputShape.map(String.init).joined(separator: "x")) inputs (\(sourceModel.parameterCount) parameters)" }
                ?? (config.kind == "imaging" ? "CNN (3 conv-BN-ReLU stages, \(sourceModel.parameterCount) parameters)" : "MLP (\(sourceModel.parameterCount) parameters)"),
            "local epochs per round": "\(config.localEpochs)", "batch size": "\(config.batchSize)",
            "learning rate": "\(config.learningRate)", "momentum": "\(config.momentum)", "FedProx mu": "\(config.proximalMu)",
            "compressed codec": "top-k \(config.compressedTopK * 100)% + int8 (blocks of 256) + zlib 6, error feedback",
            "pre-training": "\(config.pretrainEpochs) epochs on the source domain (cached: \(source))",
            "transport": "loopback TCP, one OS process per coordinator and node",
        ]
        if arms.contains(where: { $0.adaptationMethod != nil }) {
            settings["source+adabn / tent / shot / dann / coral"] = "one cohort adapt process per hospital on its training inputs (labels unused) with the method's defaults"
                + " (TENT 1 epoch Adam 1e-3; SHOT 5 epochs SGD 3e-4; DANN and CORAL 3 epochs over \(AdaptationArmRunner.maxSourceRows) source rows, Adam 3e-4)"
        }
        if arms.contains(.fedavgLoRA), let lora = try? loraSettings() {
            settings["fedavg-lora"] = "LoRA rank \(lora.spec.rank), α = \(lora.spec.alpha.map { "\($0)" } ?? "\(lora.spec.rank)") on \(lora.spec.targets.joined(separator: ", "))"
                + "; also trained and sent: \(lora.trainablePrefixes.joined(separator: ", ")) and BatchNorm running statistics"
        }
        if let schema = config.schema, let p = preprocessing {
            settings["dataset schema"] = "\(schema): \(p.schema.features.count) columns read by name (\(p.encodedWidth) encoded values), label '\(p.schema.label.column)'"
                + "; preprocessing fitted on the source training rows (carried by local-only and pooled), each federated hospital fits its own"
        }
        settings["local-only / pooled"] = "\(config.rounds * config.localEpochs) epochs from the source model, best epoch on a 20% validation split"
        let output = SimulationResults(
            title: "Cohort simulation: \(config.sites) \(config.kind) hospitals", kind: config.kind, seed: config.seed, quick: config.quick,
            rounds: config.rounds, settings: settings, sites: cohort.siteInfos, arms: results, shift: shift, startedAt: startedAt,
            wallSeconds: clock.elapsed, notes: (regression ? RegressionFindings.notes(results, sourceR2: sourceAccuracy)
                : Findings.notes(results, sites: cohort.siteInfos, sourceAccuracy: sourceAccuracy)
                + AdaptationFindings.notes(results, sites: cohort.siteInfos, sourceAccuracy: sourceAccuracy, shift: shift)) + [logME])
        try ReportWriter.write(output, to: config.out)
        return output
    }

    /// The preset named by `config.model`, if any.
    private func backbone() throws -> SimulationBackbone? {
        try config.model.map { try SimulationBackbone(name: $0, knobs: config.presetOptions) }
    }

    /// The architecture pre-trained and federated: the preset, or the small CNN / MLP.
    private func modelSpec(cohort: SimulationCohort) throws -> ModelSpec {
        if let backbone = try backbone() { return try backbone.spec(classes: cohort.classes, inputShape: cohort.modelInputShape) }
        return config.kind == "imaging" ? SimulationModels.imaging(classes: cohort.classes, inputShape: cohort.modelInputShape)
                                        : SimulationModels.tabular(classes: cohort.classes, features: cohort.modelInputShape.reduce(1, *))
    }

    /// The `fedavg-lora` arm's LoRA configuration and the prefixes it also trains: the config's,
    /// else the preset's block convolutions and head (the small CNN's convolutions and `head`).
    func loraSettings() throws -> (spec: LoRASpec, trainablePrefixes: [String]) {
        let preset = try backbone()
        let targets = !config.loraTargets.isEmpty ? config.loraTargets : (preset?.defaultLoRATargets ?? ["features.*"])
        let prefixes = config.loraTrainablePrefixes ?? [preset?.preset.headNode ?? "head"]
        return (LoRASpec(rank: config.loraRank, alpha: config.loraAlpha, targets: targets), prefixes)
    }

    /// Pre-trains the source model, or reuses the cached one for the same settings.
    func pretrainSource(cohort: SimulationCohort, clock: inout ProgressClock) throws -> String {
        let cacheFile = (config.cacheDir as NSString).appendingPathComponent("source-\(config.pretrainKey).ckpt")
        if FileManager.default.fileExists(atPath: cacheFile), (try? CheckpointFile.load(cacheFile)) != nil {
            log("simulate: using the cached source model \(cacheFile)")
            clock.advance(Double(config.pretrainEpochs))
            return cacheFile
        }
        try FileManager.default.createDirectory(atPath: config.cacheDir, withIntermediateDirectories: true)
        let spec = try modelSpec(cohort: cohort)
        try JSONEncoder.pretty.encode(spec).write(to: URL(fileURLWithPath: path("model.json")))
        log("simulate: pre-training on the source domain (\(config.pretrainEpochs) epochs; cached as \(cacheFile))")
        let follower = LogFollower(path: path("logs", "pretrain-source.log"))
        try FileManager.default.createDirectory(atPath: path("logs"), withIntermediateDirectories: true)
        let child = try ChildProcess(name: "source pre-training", executable: executable,
                                     arguments: ["pretrain", "--arch", path("model.json"), "--data", cohort.sourceTrain, "--val", cohort.sourceValidation]
                                         + (config.schema.map { ["--schema", $0] } ?? []) + [
                                                 "--epochs", "\(config.pretrainEpochs)", "--batch-size", "\(config.batchSize)", "--lr", "0.05",
                                                 "--seed", "\(config.seed)", "--out", cacheFile],
                                     logPath: follower.path)
        var lastClock = clock
        while child.isRunning {
            for line in follower.newLines() where line.contains("epoch") {
                lastClock.advance(1)
                log("  \(line)  [\(lastClock.eta)]")
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
        for line in follower.newLines() where line.contains("epoch") || line.contains("saved") { log("  \(line)") }
        guard child.exitStatus == 0 else {
            throw SimulationError("source pre-training failed with status \(child.exitStatus) (log: \(follower.path))\n\(child.logTail())")
        }
        clock = lastClock
        return cacheFile
    }

    /// Per-site scores of one model that every hospital uses as it is.
    private func scoreFixed(_ arm: SimulationArm, model: Sequential, cohort: SimulationCohort, tests: [LabelledData], seconds: Double) throws -> ArmResult {
        let scores = try zip(cohort.sites, tests).map { site, test in try Self.score(model, test, site: site.name) }
        return ArmResult(name: arm.rawValue, description: arm.summary, federated: false, perSite: scores, rounds: [],
                         bytesUp: 0, bytesDown: 0, wallSeconds: seconds, failed: nil)
    }

    static func score(_ model: Sequential, _ test: LabelledData, site: String) throws -> SiteScore {
        if test.isRegression {
            let r = try Inference.regressionReport(model, test)
            return SiteScore(site: site, mae: r.mae, rmse: r.rmse, r2: r.r2, samples: test.count)
        }
        let report = try Inference.report(model, test)
        return SiteScore(site: site, accuracy: report.accuracy, balancedAccuracy: report.balancedAccuracy, samples: test.count)
    }

    private func fineTuneArguments(data: [String], out: String, seed: UInt64, source: String) -> [String] {
        ["pretrain", "--init", source] + data.flatMap { ["--data", $0] } + [
            "--epochs", "\(config.rounds * config.localEpochs)", "--batch-size", "\(config.batchSize)", "--lr", "\(config.learningRate)",
            "--momentum", "\(config.momentum)", "--val-fraction", "0.2", "--seed", "\(seed)", "--out", out]
    }

    /// Each hospital fine-tunes the source model alone (one process per hospital).
    private func runLocalOnly(cohort: SimulationCohort, source: String, tests: [LabelledData], clock: inout ProgressClock) throws -> ArmResult {
        let started = Date()
        let dir = path("arms", SimulationArm.localOnly.rawValue)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var scores: [SiteScore] = []
        for (i, (site, test)) in zip(cohort.sites, tests).enumerated() {
            let out = (dir as NSString).appendingPathComponent("\(site.name).ckpt")
            try ChildProcess.runToEnd(name: "local-only fine-tune at \(site.name)", executable: executable,
                                      arguments: fineTuneArguments(data: [site.trainPath], out: out, seed: config.seed &+ UInt64(i), source: source),
                                      logPath: (dir as NSString).appendingPathComponent("\(site.name).log"), timeout: 3600)
            let model = try CheckpointFile.load(out).makeModel(path: out)
            scores.append(try Self.score(model, test, site: site.name))
            clock.advance(Double(config.rounds * config.localEpochs) / Double(cohort.sites.count))
            let shown = scores.last!.r2.map { String(format: "R² %.3f", $0) } ?? String(format: "accuracy %.3f", scores.last!.accuracy)
            log("  local-only \(site.name): test \(shown)  [\(clock.eta)]")
        }
        return ArmResult(name: SimulationArm.localOnly.rawValue, description: SimulationArm.localOnly.summary, federated: false,
                         perSite: scores, rounds: [], bytesUp: 0, bytesDown: 0, wallSeconds: Date().timeIntervalSince(started), failed: nil)
    }

    /// One fine-tune on every hospital's training data pooled (the upper reference).
    private func runPooled(cohort: SimulationCohort, source: String, tests: [LabelledData], clock: inout ProgressClock) throws -> ArmResult {
        let started = Date()
        let dir = path("arms", SimulationArm.pooled.rawValue)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let out = (dir as NSString).appendingPathComponent("pooled.ckpt")
        try ChildProcess.runToEnd(name: "pooled fine-tune", executable: executable,
                                  arguments: fineTuneArguments(data: cohort.sites.map(\.trainPath), out: out, seed: config.seed, source: source),
                                  logPath: (dir as NSString).appendingPathComponent("pooled.log"), timeout: 3600)
        clock.advance(Double(config.rounds * config.localEpochs))
        let model = try CheckpointFile.load(out).makeModel(path: out)
        var result = try scoreFixed(.pooled, model: model, cohort: cohort, tests: tests, seconds: Date().timeIntervalSince(started))
        result.wallSeconds = Date().timeIntervalSince(started)
        return result
    }
}

extension JSONEncoder {
    /// Pretty-printed, sorted keys.
    static var pretty: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return e
    }
}
