import CohortCheckpoint
import CohortNN
import Foundation

/// `cohort model init`: a fresh checkpoint from an architecture (seeded weights).
enum ModelInitCommand {
    static let spec = CommandSpec(
        ["model", "init"], summary: "Write a checkpoint with freshly initialised weights for an architecture JSON.",
        options: [
            OptionSpec("arch", value: "FILE", help: "Architecture description (JSON)."),
            OptionSpec("seed", value: "N", help: "Seed for the initial weights.", default: "0"),
            OptionSpec("out", value: "FILE", help: "Checkpoint to write."),
        ])

    static func run(_ command: ParsedCommand) throws {
        let path = try command.string("arch")
        guard let data = FileManager.default.contents(atPath: path) else { throw CommandError("cannot read architecture file '\(path)'") }
        let model: Sequential
        do { model = try Sequential(spec: try ModelSpec.decode(json: data), seed: UInt64(try command.int("seed", range: 0...))) } catch {
            throw CommandError("\(path): \(error)")
        }
        let out = try command.string("out")
        try CheckpointFile.save(model: model, metadata: CheckpointMetadata(source: "model init \(path) seed \(try command.int("seed"))"), to: out)
        Terminal.progress("wrote \(out): \(model.layers.count) layers, \(model.parameterCount) parameters")
    }
}
