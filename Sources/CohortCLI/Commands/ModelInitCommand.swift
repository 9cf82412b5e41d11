import CohortCheckpoint
import CohortNN
import Foundation

/// `cohort model init`: a fresh checkpoint from an architecture (seeded weights).
enum ModelInitCommand {
    static let spec = CommandSpec(
        ["model", "init"], summary: "Write a checkpoint with freshly initialised weights for an architecture JSON.",
        options: ArchitectureOptions.options + [
            OptionSpec("seed", value: "N", help: "Seed for the initial weights.", default: "0"),
            OptionSpec("out", value: "FILE", help: "Checkpoint to write."),
        ])

    static func run(_ command: ParsedCommand) throws {
        let (spec, path) = try ArchitectureOptions.load(command)
        let model: Sequential
        do { model = try Sequential(spec: spec, seed: UInt64(try command.int("seed", range: 0...))) } catch {
            throw CommandError("\(path): \(error)")
        }
        let out = try command.string("out")
        try CheckpointFile.save(model: model, metadata: CheckpointMetadata(source: "model init \(path) seed \(try command.int("seed"))"), to: out)
        Terminal.progress("wrote \(out): \(model.layers.count) layers, \(model.parameterCount) parameters")
    }
}
