import CohortCheckpoint
import Foundation

/// `cohort export`: a checkpoint → a PyTorch-loadable safetensors file.
enum ExportCommand {
    static let spec = CommandSpec(
        ["export"], summary: "Write a Cohort checkpoint's tensors as .safetensors (float32) for PyTorch.",
        discussion: "Load in PyTorch with safetensors.torch.load_file(path) and model.load_state_dict(..., strict=False) (Cohort does not store num_batches_tracked).",
        options: [
            OptionSpec("format", value: "NAME", help: "Output format (only safetensors).", default: "safetensors"),
            OptionSpec("out", value: "FILE", help: "File to write."),
            .flag("merge-lora", help: "Merge LoRA factors into their weights (W + α/r·B·A) and write the plain model's tensors."),
        ],
        positionals: [PositionalSpec("checkpoint", help: "The checkpoint to export.")])

    static func run(_ command: ParsedCommand) throws {
        guard try command.string("format") == "safetensors" else {
            throw UsageError(context: command.context, problem: "option '--format' supports only 'safetensors', got '\(try command.string("format"))'")
        }
        guard let path = command.positional("checkpoint") else {
            throw UsageError(context: command.context, problem: "missing the checkpoint to export")
        }
        let out = try command.string("out")
        var checkpoint = try CheckpointFile.load(path)
        if command.flag("merge-lora") {
            guard checkpoint.architecture?.lora != nil else { throw CommandError("\(path) has no LoRA factors to merge") }
            checkpoint = try checkpoint.mergingLoRA(path: path)
        }
        try Safetensors.save(checkpoint.tensors, metadata: ["source": checkpoint.metadata.source, "exported_from": path], to: out)
        Terminal.progress("exported \(checkpoint.tensors.count) tensors from \(path) to \(out)")
    }
}
