import CohortBench
import Foundation
let t = Int(CommandLine.arguments.dropFirst().first ?? "2") ?? 2
let cs = CommandLine.arguments.count > 2 ? [CommandLine.arguments[2]] : ["mlp", "cnn", "tabular"]
let r = try TrainBenchmark.run(cases: cs, threads: t, seconds: 1, repeats: 3) { print($0) }
_ = r
