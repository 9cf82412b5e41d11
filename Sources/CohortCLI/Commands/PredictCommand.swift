import CohortCheckpoint
import CohortData
import Foundation

/// `cohort predict`: a checkpoint's logits for every sample of a data file.
enum PredictCommand {
    static let spec = CommandSpec(
        ["predict"], summary: "Write a checkpoint's logits, float32 [N, classes], for every sample of a data file (.npy or .csv).",
        discussion: """
        Reads .npy, .npz (the first array, or --key), .ctf and CSV. Arrays have the sample on axis 0; integer arrays \
        (uint8 images) are fed as their numeric values, without scaling. --layout nchw transposes [N, C, H, W] arrays \
        to Cohort's [N, H, W, C]; an [N, H, W] array fits a model taking [H, W, 1]. A .ctf file is read in file order, \
        labelled rows or not. In a CSV every column but the label column (when present) is a feature. The model runs \
        in evaluation mode. --out FILE.npy writes a float32 array; FILE.csv a table with a header logit_0,...
        """,
        options: [
            OptionSpec("data", value: "FILE", help: "Samples to predict (.npy, .npz, .ctf or .csv)."),
            OptionSpec("key", value: "NAME", help: "Array of a .npz archive (default: its first)."),
            OptionSpec("layout", value: "nchw|nhwc", help: "Layout of image arrays.", default: "nhwc"),
            OptionSpec("label", value: "COLUMN", help: "CSV label column, left out of the features when present.", default: "target"),
            OptionSpec("batch-size", value: "N", help: "Samples per forward pass.", default: "64"),
            OptionSpec("out", value: "FILE", help: "Logits to write (.npy or .csv)."),
        ],
        positionals: [PositionalSpec("checkpoint", help: "The checkpoint to run.")])

    static func run(_ command: ParsedCommand) throws {
        guard let path = command.positional("checkpoint") else { throw UsageError(context: command.context, problem: "missing the checkpoint to run") }
        let dataPath = try command.string("data"), out = try command.string("out")
        let layoutText = try command.string("layout")
        guard let layout = ImageLayout(rawValue: layoutText.lowercased()) else {
            throw UsageError(context: command.context, problem: "option '--layout' expects nchw or nhwc, got '\(layoutText)'")
        }
        let batchSize = try command.int("batch-size", range: 1...1_000_000)
        _ = try LogitsFile.format(of: out)
        let checkpoint = try CheckpointFile.load(path)
        if checkpoint.metadata.preprocessing != nil && dataPath.lowercased().hasSuffix(".csv") {
            throw CommandError("\(path) carries CSV preprocessing (pretrain --schema), which predict does not apply yet; give the samples already encoded as .npy or .ctf")
        }
        let model = try checkpoint.makeModel(path: path)
        let inputs = try PredictionInput.load(path: dataPath, key: command.isSet("key") ? try command.string("key") : nil,
                                              layout: command.isSet("layout") ? layout : nil, label: try command.string("label"),
                                              labelRequired: command.isSet("label"), modelInputShape: model.inputShape)
        var lastReport = Date()
        let logits = BatchPrediction.logits(model, inputs: inputs, batchSize: batchSize) { done, total in
            if done == total || Date().timeIntervalSince(lastReport) >= 1 {
                Terminal.progress("predict: \(done)/\(total) samples")
                lastReport = Date()
            }
        }
        try LogitsFile.write(logits, to: out)
        Terminal.progress("wrote \(out): logits [\(logits.rows), \(logits.columns)] for \(dataPath)")
    }
}
