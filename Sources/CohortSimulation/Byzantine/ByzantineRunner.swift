import CohortFederation
import Foundation

/// What `cohort simulate --byzantine K` runs: how many hospitals turn hostile, with which
/// attacks, against which defences.
public struct ByzantineSettings: Sendable, Equatable {
    /// Hostile hospitals: the first `hostile` of the cohort (1 ≤ hostile < sites).
    public var hostile: Int
    public var attacks: [ByzantineAttack]
    public var defences: [ByzantineDefence]

    public init(hostile: Int, attacks: [ByzantineAttack] = ByzantineAttack.allCases, defences: [ByzantineDefence] = ByzantineDefence.defaultSet) {
        self.hostile = hostile; self.attacks = attacks; self.defences = defences
    }

    /// Checks the settings against a cohort of `sites`; the error names what is wrong.
    public func validate(sites: Int) throws {
        guard hostile >= 1, hostile < sites else { throw SimulationError("--byzantine must be in 1...\(sites - 1) (the cohort has \(sites) hospitals), got \(hostile)") }
        guard !attacks.isEmpty, Set(attacks).count == attacks.count else { throw SimulationError("--attack: name each attack once") }
        guard !defences.isEmpty, Set(defences).count == defences.count else { throw SimulationError("--defences: name each defence once") }
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

    public func run() throws -> ByzantineResults {
        try config.validate()
        try settings.validate(sites: config.sites)
        let base = SimulationRunner(config: config, executable: executable, log: log)
        try FileManager.default.createDirectory(atPath: config.out, withIntermediateDirectories: true)
        let runs = settings.defences.count * (settings.attacks.count + 1)
        var clock = ProgressClock(totalUnits: Double(config.pretrainEpochs) + Double(runs * config.rounds * config.localEpochs))
        log("simulate: generating \(config.sites) \(config.kind) hospitals (seed \(config.seed)\(config.quick ? ", quick" : ""))")
        let cohort = try CohortPreparation.generate(config: config, into: base.path("data"))
        let source = try base.pretrainSource(cohort: cohort, clock: &clock)
        let hostile = Array(cohort.sites.prefix(settings.hostile).map(\.name))
        let honest = cohort.sites.map(\.name).filter { !hostile.contains($0) }
        log("simulate: hostile hospitals \(hostile.joined(separator: ", ")); attacks \(settings.attacks.map(\.rawValue).joined(separator: ", "))")
        var defences: [ByzantineResults.Defence] = []
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
                log("  \(defence.rawValue) / \(label): " + (run.failed.map { "FAILED: \($0)" }
                    ?? "honest mean accuracy \(ValueFormat.percent(run.meanAccuracy ?? .nan)), hostile update screened in \(run.screenedRounds)/\(run.rounds) rounds")
                    + "  [\(clock.eta)]")
                results.append(run)
            }
            defences.append(ByzantineResults.Defence(name: defence.rawValue, description: defence.summary, runs: results))
        }
        let output = ByzantineResults(hostile: hostile, honest: honest, kind: config.kind, seed: config.seed, rounds: config.rounds,
                                      defences: defences, wallSeconds: clock.elapsed)
        try ByzantineReport.write(output, to: config.out)
        return output
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
