import CohortBench
import CohortSimulation
import Foundation

/// `cohort bench privacy`: secure aggregation's cost per round against plain FedAvg, and
/// (from a simulation) what differential privacy costs in accuracy and what ε it gives.
enum BenchPrivacyCommand {
    static let spec = CommandSpec(
        ["bench", "privacy"], summary: "Secure aggregation's CPU and bytes per round vs plain FedAvg; DP's ε and accuracy cost from a simulation.",
        discussion: """
        Secure aggregation: for each --nodes count and --dropouts count, one round of a model of about \
        --params parameters (an MLP) is run through the real update encoding, secure-aggregation state \
        machines and wire messages, every party in this process one after the other, each timed with its \
        thread's CPU clock; the same for plain FedAvg (float32 UPDATE, decode, streaming average). Reported: \
        CPU seconds per node (median node) and at the coordinator, bytes up and down per node, the median of \
        --repeats rounds, and the ratios. Sockets, TLS and training cost the same either way and are left out.

        Differential privacy: --simulation DIR reads DIR/metrics.json of a `cohort simulate` run with the \
        privacy arms (fedavg, fedavg-dp, fedavg-secagg, fedavg-secagg-dp); --run-simulation runs them first \
        (the default simulation, or --quick) into --simulation-out. Reported per arm: mean accuracy, ε at δ, \
        σ, clip norm, and the accuracy cost against fedavg.
        """,
        options: [
            OptionSpec("nodes", value: "N,N,...", help: "Node counts.", default: "10,50"),
            OptionSpec("params", value: "N", help: "Approximate parameter count of the model.", default: "1000000"),
            OptionSpec("dropouts", value: "D,D,...", help: "Nodes dropping after key sharing (their masks are rebuilt).", default: "0,1"),
            OptionSpec("repeats", value: "N", help: "Rounds per configuration; the median is reported.", default: "3"),
            OptionSpec("simulation", value: "DIR", help: "A simulation output folder whose metrics.json holds the privacy arms."),
            .flag("run-simulation", help: "Run the simulation's privacy arms first (about 2 minutes; --quick: about 40 s)."),
            .flag("quick", help: "With --run-simulation: the CI-sized simulation."),
            OptionSpec("simulation-out", value: "DIR", help: "Where --run-simulation writes.", default: "runs/bench-privacy"),
            OptionSpec("out", value: "FILE", help: "Also write the JSON report to FILE."),
            .flag("json", help: "Print the report as JSON (the default prints a table)."),
        ])

    struct Output: Codable {
        var bench = "privacy"
        var secureAggregation: PrivacyBenchmark.Report
        var differentialPrivacy: PrivacyComparison?
    }

    static func run(_ command: ParsedCommand) throws {
        func list(_ name: String, _ range: ClosedRange<Int>) throws -> [Int] {
            let parts = try command.string(name).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let values = parts.compactMap { Int($0) }
            guard !values.isEmpty, values.count == parts.count, values.allSatisfy(range.contains) else {
                throw UsageError(context: command.context, problem: "--\(name) must be comma-separated integers in \(range), got '\(try command.string(name))'")
            }
            return values
        }
        let nodes = try list("nodes", 2...1000)
        let dropouts = try list("dropouts", 0...999)
        let params = try command.int("params", range: 1000...100_000_000)
        let repeats = try command.int("repeats", range: 1...100)
        for n in nodes {
            for d in dropouts where n - d < max(2, n / 2 + 1) {
                throw UsageError(context: command.context, problem: "--dropouts \(d) leaves fewer than the threshold of \(n) nodes (\(max(2, n / 2 + 1)))")
            }
        }
        var simulationDir: String? = command.isSet("simulation") ? try command.string("simulation") : nil
        if command.flag("run-simulation") {
            var config = SimulationConfig()
            if command.flag("quick") { config.applyQuickPreset() }
            config.arms = ["source-only", "fedavg", "fedavg-dp", "fedavg-secagg", "fedavg-secagg-dp"]
            config.out = try command.string("simulation-out")
            _ = try SimulationRunner(config: config, executable: try Executable.path(), log: { Terminal.progress($0) }).run()
            simulationDir = config.out
        }
        let comparison = try simulationDir.map { dir in
            PrivacyComparison(try MetricsJSON.read(path: (dir as NSString).appendingPathComponent("metrics.json")))
        }
        var cases: [PrivacyBenchmark.Case] = []
        var report: PrivacyBenchmark.Report?
        for d in dropouts {
            let r = try PrivacyBenchmark.run(nodes: nodes, params: params, dropouts: d, repeats: repeats, progress: Terminal.progress)
            cases += r.cases
            report = r
        }
        report!.cases = cases
        let output = Output(secureAggregation: report!, differentialPrivacy: comparison)
        if command.flag("json") || command.isSet("out") {
            try Terminal.emit(try Terminal.json(output), to: command.isSet("out") ? try command.string("out") : nil)
        }
        if !command.flag("json") { print(table(output)) }
    }

    static func table(_ o: Output) -> String {
        let r = o.secureAggregation
        var lines = ["secure aggregation vs plain FedAvg, \(r.model) (\(r.parameters) parameters), median of \(r.repeats) rounds",
                     "nodes  drop  t   node CPU plain  node CPU secure  coord CPU plain  coord CPU secure  up/node plain  up/node secure"]
        for c in r.cases {
            lines.append(String(format: "%5d  %4d  %2d  %12.4f s  %13.4f s  %13.4f s  %14.4f s  %13d  %14d", c.nodes, c.dropouts, c.threshold,
                                c.plain.nodeCPUSeconds, c.secure.nodeCPUSeconds, c.plain.coordinatorCPUSeconds, c.secure.coordinatorCPUSeconds,
                                c.plain.bytesUpPerNode, c.secure.bytesUpPerNode))
        }
        if r.cases.contains(where: { $0.consistent != nil }) {
            lines.append("with the consistency round (signed keys and survivor sets):")
            lines.append("nodes  drop  t   node CPU        coord CPU        up/node        down/node (secure → consistent)")
            for c in r.cases {
                guard let k = c.consistent else { continue }
                lines.append(String(format: "%5d  %4d  %2d  %12.4f s  %13.4f s  %13d  %8d → %d", c.nodes, c.dropouts, c.threshold,
                                    k.nodeCPUSeconds, k.coordinatorCPUSeconds, k.bytesUpPerNode, c.secure.bytesDownPerNode, k.bytesDownPerNode))
            }
        }
        if let dp = o.differentialPrivacy {
            lines.append("")
            lines.append("simulation (\(dp.kind), \(dp.sites) sites, \(dp.rounds) rounds\(dp.quick ? ", quick" : "")): arm, mean accuracy, points vs fedavg, ε at δ")
            for a in dp.arms {
                lines.append(a.arm.padding(toLength: 18, withPad: " ", startingAt: 0)
                             + String(format: "%6.1f%%  %+6.1f  ", a.meanAccuracy * 100, -(a.accuracyCostVsFedAvg ?? .nan) * 100 + 0)
                             + (a.privacy.map { String(format: "ε = %.3g at δ = %g (σ = %.3g, C = %g, %@)", $0.epsilon, $0.delta, $0.noiseMultiplier, $0.clipNorm, $0.mode) } ?? "-"))
            }
        }
        return lines.joined(separator: "\n")
    }
}
