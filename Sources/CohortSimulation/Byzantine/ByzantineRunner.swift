import CohortFederation
import Foundation

/// What `cohort simulate --byzantine K` runs: how many hospitals turn hostile, with which
/// attacks, against which defences.
public struct ByzantineSettings: Sendable, Equatable {
    /// Hostile hospitals: the first `hostile` of the cohort (1 ≤ hostile < sites).
    public var hostile: Int
    public var attacks: [ByzantineAttack]
    public var defences: [ByzantineDefence]
    /// Seeds to run every cell with (the cohort and source model regenerated per seed); empty:
    /// the config's seed alone.
    public var seeds: [UInt64]

    /// At most this many seeds (each one reruns the whole experiment).
    public static let maxSeeds = 100

    public init(hostile: Int, attacks: [ByzantineAttack] = ByzantineAttack.allCases, defences: [ByzantineDefence] = ByzantineDefence.defaultSet,
                seeds: [UInt64] = []) {
        self.hostile = hostile; self.attacks = attacks; self.defences = defences; self.seeds = seeds
    }

    /// Checks the settings against a cohort of `sites`; the error names what is wrong.
    public func validate(sites: Int) throws {
        guard hostile >= 1, hostile < sites else { throw SimulationError("--byzantine must be in 1...\(sites - 1) (the cohort has \(sites) hospitals), got \(hostile)") }
        guard !attacks.isEmpty, Set(attacks).count == attacks.count else { throw SimulationError("--attack: name each attack once") }
        guard !defences.isEmpty, Set(defences).count == defences.count else { throw SimulationError("--defences: name each defence once") }
        guard seeds.count <= Self.maxSeeds, Set(seeds).count == seeds.count else {
            throw SimulationError("--seeds/--seed-list: at most \(Self.maxSeeds) seeds, each once, got \(seeds.map(String.init).joined(separator: ","))")
        }
    }
}

/// Runs the Byzantine experiment: the cohort and source model as `SimulationRunner` makes them,
/// then, for each defence, one clean federated run and one per attack in which the first K
/// hospitals' nodes run `--test-attack` (their updates reach the coordinator over the real
/// path). Writes `byzantine.json` and `byzantine.txt` into `config.out`.
public struct ByzantineRunner {
    public let config: SimulationConfig
    public let settings: ByzantineSettings
    public let executable: String
    public let log: (String) -> Void

    public init(config: SimulationConfig, settings: ByzantineSettings, executable: String, log: @escaping (String) -> Void) {
        self.config = config; self.settings = settings; self.executable = executable; self.log = log
    }

    /// File names in `config.out`.
    public static let jsonFileName = "byzantine.json"
    public static let tableFileName = "byzantine.txt"

    /// The seeds run: `settings.seeds`, or the config's seed.
    var seeds: [UInt64] { settings.seeds.isEmpty ? [config.seed] : settings.seeds }

    public func run() throws -> ByzantineResults {
        try config.validate()
        try settings.validate(sites: config.sites)
        try FileManager.default.createDirectory(atPath: config.out, withIntermediateDirectories: true)
        let seeds = self.seeds
        let runs = settings.defences.count * (settings.attacks.count + 1)
        var clock = ProgressClock(totalUnits: Double(seeds.count) * (Double(config.pretrainEpochs) + Double(runs * config.rounds * config.localEpochs)))
        var perSeed: [[ByzantineSeedPooling.SeedRuns]] = Array(repeating: [], count: settings.defences.count)
        var hostile: [String] = [], honest: [String] = []
        for (index, seed) in seeds.enumerated() {
            var seedConfig = config
            seedConfig.seed = seed
            // One seed keeps the single-seed layout; several get OUT/seed-S/ each.
            if seeds.count > 1 { seedConfig.out = (config.out as NSString).appendingPathComponent("seed-\(seed)") }
            let names = try runSeed(seedConfig, label: seeds.count > 1 ? "seed \(seed) (\(index + 1)/\(seeds.count)) " : "", clock: &clock)
            (hostile, honest) = (names.hostile, names.honest)
            for (i, runs) in names.runs.enumerated() { perSeed[i].append(ByzantineSeedPooling.SeedRuns(seed: seed, runs: runs)) }
        }
        let defences = zip(settings.defences, perSeed).map { defence, seedRuns in
            ByzantineSeedPooling.pool(name: defence.rawValue, description: defence.summary, seeds: seedRuns)
        }
        let output = ByzantineResults(hostile: hostile, honest: honest, kind: config.kind, seed: seeds[0], rounds: config.rounds,
                                      defences: defences, wallSeconds: clock.elapsed, seeds: seeds)
        try ByzantineReport.write(output, to: config.out)
        return output
    }

    /// One seed: its cohort and source model, then every defence's clean and attacked runs
    /// (per defence, clean first).
    private func runSeed(_ config: SimulationConfig, label: String, clock: inout ProgressClock) throws
        -> (hostile: [String], honest: [String], runs: [[ByzantineResults.Run]]) {
        let base = SimulationRunner(config: config, executable: executable, log: log)
        try FileManager.default.createDirectory(atPath: config.out, withIntermediateDirectories: true)
        log("simulate: \(label)generating \(config.sites) \(config.kind) hospitals (seed \(config.seed)\(config.quick ? ", quick" : ""))")
        let cohort = try CohortPreparation.generate(config: config, into: base.path("data"))
        let source = try base.pretrainSource(cohort: cohort, clock: &clock)
        let hostile = Array(cohort.sites.prefix(settings.hostile).map(\.name))
        let honest = cohort.sites.map(\.name).filter { !hostile.contains($0) }
        log("simulate: hostile hospitals \(hostile.joined(separator: ", ")); attacks \(settings.attacks.map(\.rawValue).joined(separator: ", "))")
        var defences: [[ByzantineResults.Run]] = []
        for defence in settings.defences {
            var results: [ByzantineResults.Run] = []
            for attack in [nil] + settings.attacks.map(Optional.some) {
                let label = attack?.rawValue ?? ByzantineResults.clean
                var runner = FederatedArmRunner(executable: executable, arm: .fedavg, config: config, sites: cohort.sites, sourceCheckpoint: source,
                                                directory: base.path("byzantine", defence.rawValue, label))
                runner.adjustPlan = { defence.apply(to: &$0) }
                // A round goes on when screening leaves the hostile updates out.
                runner.coordinatorArguments = ["--quorum", "\(honest.count)"]
                if let attack { runner.nodeArguments = Dictionary(uniqueKeysWithValues: hostile.map { ($0, ["--test-attack", attack.rawValue]) }) }
                let run = Self.measure(runner, label: label, hostile: hostile, honest: honest)
                clock.advance(Double(config.rounds * config.localEpochs))
                log("  seed \(config.seed) \(defence.rawValue) / \(label): " + (run.failed.map { "FAILED: \($0)" }
                    ?? "honest mean accuracy \(ValueFormat.percent(run.meanAccuracy ?? .nan)), hostile update screened in \(run.screenedRounds)/\(run.rounds) rounds")
                    + "  [\(clock.eta)]")
                results.append(run)
            }
            defences.append(results)
        }
        return (hostile, honest, defences)
    }

    /// One federated run, summarised; a run that fails is recorded, not thrown.
    static func measure(_ runner: FederatedArmRunner, label: String, hostile: [String], honest: [String]) -> ByzantineResults.Run {
        let started = Date()
        do {
            let result = try runner.run { _, _ in }
            let records = try Coordinator.loadRoundRecords(outDir: (runner.directory as NSString).appendingPathComponent("coordinator"))
            let screened = records.filter { r in hostile.contains { (r.screening?[$0] != nil) || r.rejected[$0] != nil } }.count
            let scores = honest.compactMap { name in result.perSite.first { $0.site == name }?.accuracy }.filter(\.isFinite)
            let failed = result.failed ?? (scores.count == honest.count ? nil : "no final score from \(honest.count - scores.count) honest hospital(s)")
            return ByzantineResults.Run(attack: label, meanAccuracy: failed == nil ? scores.reduce(0, +) / Double(scores.count) : nil,
                                        screenedRounds: screened, rounds: records.count, wallSeconds: Date().timeIntervalSince(started), failed: failed)
        } catch {
            return ByzantineResults.Run(attack: label, meanAccuracy: nil, screenedRounds: 0, rounds: 0,
                                        wallSeconds: Date().timeIntervalSince(started), failed: "\(error)".split(separator: "\n").first.map(String.init))
        }
    }
}
