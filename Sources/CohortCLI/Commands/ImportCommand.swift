import CohortCheckpoint
import CohortNN
import Foundation

/// `cohort import`: a PyTorch safetensors file plus a Cohort architecture → a checkpoint.
enum ImportCommand {
    static let spec = CommandSpec(
        ["import"], summary: "Convert a PyTorch .safetensors state_dict into a Cohort checkpoint.",
        discussion: """
        Tensor names must match the architecture's parameter names (features.0.weight, head.bias, \
        bn.running_mean, ...); the presets use torchvision's and timm's state_dict names, so \
        `--preset resnet18 --classes 1000 --input 224x224x3` imports torchvision's file as it is. Others are renamed with --map, a JSON object of PyTorch name → Cohort name. \
        PyTorch's num_batches_tracked buffers are ignored. Every missing, mis-shaped or unexpected \
        tensor is listed in one error. Conv and linear weights keep PyTorch's layout; images are \
        NHWC inside Cohort, and flatten emits PyTorch's order, so no weight needs permuting.
        """,
        options: ArchitectureOptions.options + [
            OptionSpec("safetensors", value: "FILE", help: "The .safetensors file to import."),
            OptionSpec("map", value: "FILE", help: "JSON object renaming PyTorch tensor names to Cohort names."),
            OptionSpec("out", value: "FILE", help: "Checkpoint to write."),
        ])

    static func run(_ command: ParsedCommand) throws {
        let source = try command.string("safetensors"), out = try command.string("out")
        let (arch, archPath) = try ArchitectureOptions.load(command)
        // Build the model only for its tensor names and shapes, and let its weights go.
        let expected: [(name: String, shape: [Int])], parameterCount: Int
        do {
            let model = try Sequential(spec: arch, seed: 0)
            expected = model.stateDict().map { ($0.name, $0.value.shape) }
            parameterCount = model.parameterCount
        } catch { throw CommandError("\(archPath): \(error)") }
        let mapping = command.isSet("map") ? try StateImport.loadMapping(try command.string("map")) : [:]
        let (tensors, metadata) = try Safetensors.load(source)
        let (state, ignored) = try StateImport.match(tensors, expecting: expected, mapping: mapping, path: source)
        let history = metadata.isEmpty ? [] : ["safetensors metadata: " + metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")]
        let checkpoint = Checkpoint(architecture: arch, metadata: CheckpointMetadata(source: "import \(source)", history: history), tensors: state)
        try CheckpointFile.save(checkpoint, to: out)
        Terminal.progress("imported \(state.count) tensors (\(parameterCount) parameters) from \(source) into \(out)"
                          + (ignored.isEmpty ? "" : "; ignored \(ignored.joined(separator: ", "))"))
    }
}
