import CohortFederation
import CohortNN
import CohortSimulation
import Foundation

/// `cohort simulate`: the end-to-end multi-hospital adaptation experiment with a report.
enum SimulateCommand {
    static let spec = CommandSpec(
        ["simulate"], summary: "Simulate hospitals with scanner shift, pre-train, federate, and report what each method bought.",
        discussion: """
        Generates a source domain and hospitals with their own scanners, label mix and sizes; pre-trains on \
        the source (cached in --cache by seed and settings); scores the source model at every hospital; runs each arm \
        (federated arms as a coordinator and one node process per hospital on loopback); and writes \
        OUT/report.html, OUT/metrics.json and OUT/rounds.csv. Arms: \(SimulationArm.allCases.map(\.rawValue).joined(separator: ", ")). \
        source+<method> arms run one cohort adapt process per hospital on its training inputs (labels unused); source+dann and \
        source+coral also train on the source data (about 30 s each on the default cohort), so they (like fedavg+adabn and \
        fedavg-dp) run only when named in --arms. \
        A --config JSON file may hold any setting (kind, sites, rounds, arms, seed, quick, out, localEpochs, \
        learningRate, ...); flags override it. The privacy arms use dpEpsilon (default 10, at dpDelta 1e-5), \
        dpClipNorm (0.3) and dpTrainablePrefixes (["head"]; [] trains everything); their ε is in the report. \
        "fullModels": true has the federated arms' coordinators send whole models every round (--full-models). \
        --model PRESET (config "model", "presetOptions") trains a published architecture on the 32×32×1 scans; the \
        fedavg-lora arm federates LoRA factors (config "loraRank", "loraAlpha", "loraTargets", "loraTrainablePrefixes") \
        beside fedavg's full fine-tuning, and the table shows bytes per round up and down for both.
        """,
        options: [
            OptionSpec("config", value: "FILE", help: "JSON file with settings (flags override it)."),
            OptionSpec("kind", value: "KIND", help: "imaging (32×32 scans, CNN) or tabular (clinical CSV, MLP).", default: "imaging"),
            OptionSpec("sites", value: "N", help: "Number of hospitals.", default: "5"),
            OptionSpec("rounds", value: "R", help: "Federated rounds (default 10; 5 with --quick)."),
            OptionSpec("arms", value: "A,B,...", help: "Arms to run, comma-separated (default: all but \(SimulationArm.allCases.map(\.rawValue).filter { !SimulationArm.defaultNames.contains($0) }.joined(separator: ", ")))."),
            OptionSpec("seed", value: "S", help: "Seed for data, initialisation and sampling.", default: "1"),
            OptionSpec("out", value: "DIR", help: "Output folder.", default: "runs/simulate"),
            OptionSpec("cache", value: "DIR", help: "Where pre-trained source models are cached.", default: "runs/cache"),
            .flag("quick", help: "A CI-sized cohort, 5 rounds of 2 local epochs (under a minute)."),
            OptionSpec("model", value: "PRESET", help: "Pre-train and federate a published architecture (\(ModelPreset.allCases.map(\.rawValue).joined(separator: ", "))) instead of the small CNN (imaging only; arms default to \(SimulationArm.modelDefaultNames.joined(separator: ",")))."),
            OptionSpec("preset-options", value: "JSON", help: "With --model: size knobs, e.g. '{\"width\":16}' (default: a reduced size that runs in minutes)."),
            OptionSpec("lora-rank", value: "R", help: "The fedavg-lora arm's LoRA rank (default 4)."),
            OptionSpec("schema", value: "FILE", help: "With --kind tabular: draw the cohort from this dataset schema (protocols/dataset-schema.md: column names, categories, missing cells, class names or a regression target) and read every CSV through it (arms default to \(SimulationConfig.schemaDefaultArms.joined(separator: ","))). A regression schema's report shows MAE, RMSE and R²."),
            OptionSpec("byzantine", value: "K", help: "Instead of the arms: the Byzantine experiment (on the --quick cohort, 10 rounds, unless --config or --rounds say otherwise). The first K hospitals turn hostile (their nodes run --test-attack); for each defence, one clean run and one per attack; prints and writes OUT/byzantine.txt and OUT/byzantine.json (mean accuracy of the honest hospitals, clean vs attacked)."),
            OptionSpec("attack", value: "LIST", help: "With --byzantine: comma-separated attacks, or all (\(ByzantineAttack.allCases.map(\.rawValue).joined(separator: ", "))).", default: "all"),
            OptionSpec("defences", value: "LIST", help: "With --byzantine: comma-separated defences (\(ByzantineDefence.allCases.map(\.rawValue).joined(separator: ", "))).",
                       default: ByzantineDefence.defaultSet.map(\.rawValue).joined(separator: ",")),
            OptionSpec("seeds", value: "N", help: "With --byzantine: run every (defence, attack) cell for N seeds (--seed, --seed + 1, ...), each with its own cohort and source model; the table shows means over seeds and the per-seed paired differences (default 1)."),
            OptionSpec("seed-list", value: "S,S,...", help: "With --byzantine: the seeds to run, comma-separated (instead of --seeds)."),
            OptionSpec("lora-targets", value: "LIST", help: "The fedavg-lora arm's node-name patterns (default: the model's block convolutions, e.g. 'layer*.conv*')."),
        ])

    static func run(_ command: ParsedCommand) throws {
        var config = command.isSet("config") ? try SimulationConfig.load(path: try command.string("config")) : SimulationConfig()
        // The Byzantine experiment runs 6 × 5 federations: on the CI-sized cohort unless a config says otherwise.
        if command.flag("quick") || (command.isSet("byzantine") && !command.isSet("config")) { config.applyQuickPreset() }
        if command.isSet("byzantine") && !command.isSet("config") && !command.isSet("rounds") { config.rounds = 10 }
        if command.isSet("kind") || !command.isSet("config") { config.kind = try command.string("kind") }
        if command.isSet("sites") || !command.isSet("config") { config.sites = try command.int("sites", range: 2...50) }
        if command.isSet("rounds") { config.rounds = try command.int("rounds", range: 1...1000) }
        if command.isSet("arms") { config.arms = try command.string("arms").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        if command.isSet("seed") || !command.isSet("config") { config.seed = UInt64(try command.int("seed", range: 0...)) }
        if command.isSet("out") || !command.isSet("config") { config.out = try command.string("out") }
        if command.isSet("cache") || !command.isSet("config") { config.cacheDir = try command.string("cache") }
        if command.isSet("model") { config.useModel(try command.string("model")) }
        if command.isSet("schema") { config.useSchema(try command.string("schema")) }
        if command.isSet("preset-options") {
            let text = try command.string("preset-options")
            do { config.presetOptions = try JSONDecoder().decode(PresetKnobs.self, from: Data(text.utf8)) } catch {
                throw UsageError(context: command.context, problem: "--preset-options is not a JSON object of known knobs (\(PresetKnobs.names)): \(error)")
            }
        }
        if command.isSet("lora-rank") { config.loraRank = try command.int("lora-rank", range: 1...LoRASpec.maxRank) }
        if command.isSet("lora-targets") {
            config.loraTargets = try command.string("lora-targets").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        do { try config.validate() } catch { throw UsageError(context: command.context, problem: "\(error)") }
        if command.isSet("byzantine") { return try runByzantine(command, config: config) }
        if command.isSet("seeds") || command.isSet("seed-list") {
            throw UsageError(context: command.context, problem: "--seeds and --seed-list go with --byzantine (use --seed for the arms)")
        }
        let runner = SimulationRunner(config: config, executable: try Executable.path(), log: { Terminal.progress($0) })
        let results = try runner.run()
        print(ReportWriter.terminalTable(results))
        for note in results.notes { print("- " + note) }
        print("report: \((config.out as NSString).appendingPathComponent("report.html"))")
    }
}

extension SimulateCommand {
    /// `--byzantine K`: the Byzantine experiment in place of the arms.
    static func runByzantine(_ command: ParsedCommand, config: SimulationConfig) throws {
        let attackText = try command.string("attack")
        let attacks: [ByzantineAttack]
        let defences: [ByzantineDefence]
        do {
            attacks = attackText == "all" ? ByzantineAttack.allCases : try list(attackText).map { name throws(UnknownAttack) in try ByzantineAttack(parsing: name) }
        } catch { throw UsageError(context: command.context, problem: "--attack: \(error)") }
        let defenceNames = list(try command.string("defences"))
        if let unknown = defenceNames.first(where: { ByzantineDefence(rawValue: $0) == nil }) {
            throw UsageError(context: command.context, problem: "--defences: unknown defence '\(unknown)' (known: \(ByzantineDefence.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        defences = defenceNames.compactMap(ByzantineDefence.init(rawValue:))
        let settings = ByzantineSettings(hostile: try command.int("byzantine", range: 1...49), attacks: attacks, defences: defences,
                                         seeds: try seeds(command, first: config.seed))
        do { try settings.validate(sites: config.sites) } catch { throw UsageError(context: command.context, problem: "\(error)") }
        let results = try ByzantineRunner(config: config, settings: settings, executable: try Executable.path(), log: { Terminal.progress($0) }).run()
        print(ByzantineReport.table(results))
        for note in ByzantineReport.findings(results) { print("- " + note) }
        print("results: \((config.out as NSString).appendingPathComponent(ByzantineRunner.jsonFileName))")
    }

    /// `--seeds N` (N seeds from `first`) or `--seed-list A,B,...`; empty when neither is given.
    static func seeds(_ command: ParsedCommand, first: UInt64) throws -> [UInt64] {
        if command.isSet("seeds") && command.isSet("seed-list") {
            throw UsageError(context: command.context, problem: "give --seeds or --seed-list, not both")
        }
        if command.isSet("seeds") {
            let count = try command.int("seeds", range: 1...ByzantineSettings.maxSeeds)
            guard first <= UInt64.max - UInt64(count) else { throw UsageError(context: command.context, problem: "--seed \(first) + --seeds \(count) overflows") }
            return (0..<UInt64(count)).map { first + $0 }
        }
        guard command.isSet("seed-list") else { return [] }
        let names = list(try command.string("seed-list"))
        guard !names.isEmpty else { throw UsageError(context: command.context, problem: "--seed-list: no seeds given") }
        return try names.map { name in
            guard let seed = UInt64(name) else { throw UsageError(context: command.context, problem: "--seed-list: '\(name)' is not a seed (a whole number ≥ 0)") }
            return seed
        }
    }

    private static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}

/// The running `cohort` binary, which the simulation starts again for its coordinator and nodes.
enum Executable {
    static func path() throws -> String {
        if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return resolved }
        if let path = Bundle.main.executablePath { return path }
        throw CommandError("cannot find the path of the running cohort binary")
    }
}
