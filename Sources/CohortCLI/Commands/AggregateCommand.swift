import CohortCheckpoint
import Foundation

/// `cohort aggregate`: offline weighted merge of site checkpoints.
enum AggregateCommand {
    static let spec = CommandSpec(
        ["aggregate"], summary: "Merge checkpoints with one architecture into their weighted mean (e.g. sites that fine-tuned separately).",
        discussion: "Every tensor, BatchNorm statistics included, is averaged. Weights are normalised; give sample counts to weight by data size.",
        options: [
            OptionSpec("weights", value: "W,W,...", help: "One non-negative weight per checkpoint (default: equal)."),
            OptionSpec("out", value: "FILE", help: "Checkpoint to write."),
        ],
        positionals: [PositionalSpec("checkpoints", help: "The checkpoints to merge.", variadic: true)])

    static func run(_ command: ParsedCommand) throws {
        let paths = command.positionals("checkpoints")
        guard paths.count >= 2 else { throw UsageError(context: command.context, problem: "give at least two checkpoints to merge") }
        var weights: [Double]? = nil
        if command.isSet("weights") {
            let text = try command.string("weights")
            weights = try text.split(separator: ",").map { part in
                guard let w = Double(part.trimmingCharacters(in: .whitespaces)), w.isFinite, w >= 0 else {
                    throw UsageError(context: command.context, problem: "option '--weights' expects non-negative numbers separated by commas, got '\(text)'")
                }
                return w
            }
            guard weights!.count == paths.count else {
                throw UsageError(context: command.context, problem: "option '--weights' has \(weights!.count) values for \(paths.count) checkpoints")
            }
        }
        let out = try command.string("out")
        let merged = try CheckpointMerge.merge(try paths.map { ($0, try CheckpointFile.load($0)) }, weights: weights)
        try CheckpointFile.save(merged, to: out)
        Terminal.progress("aggregate: merged \(paths.count) checkpoints (\(merged.tensors.count) tensors) into \(out)")
    }
}
