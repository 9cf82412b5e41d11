import CohortCheckpoint
import CohortData
import CohortTensor
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
        in evaluation mode. --out FILE.npy writes a float32 array; FILE.csv a table with a header logit_0,... \
        A checkpoint that carries preprocessing (pretrain --schema, node --save-model) reads a raw CSV by column name with \
        it (the label column may be absent); --schema must then equal the stored one. With --schema and a checkpoint \
        without preprocessing, the feature statistics are fitted on the file itself. --labels FILE.csv writes one row per \
        sample: the predicted class name (from the checkpoint's preprocessing or the schema; else the class index), or \
        for a regression target the prediction in the target's original units (the logits file keeps the model's \
        standardised output).
        """,
        options: [
            OptionSpec("data", value: "FILE", help: "Samples to predict (.npy, .npz, .ctf or .csv)."),
            OptionSpec("key", value: "NAME", help: "Array of a .npz archive (default: its first)."),
            OptionSpec("layout", value: "nchw|nhwc", help: "Layout of image arrays.", default: "nhwc"),
            OptionSpec("label", value: "COLUMN", help: "CSV label column, left out of the features when present.", default: "target"),
            OptionSpec("batch-size", value: "N", help: "Samples per forward pass.", default: "64"),
            OptionSpec("out", value: "FILE", help: "Logits to write (.npy or .csv)."),
            OptionSpec("schema", value: "FILE", help: "Dataset schema to read a CSV by column name (see the discussion)."),
            OptionSpec("labels", value: "FILE", help: "Also write the predicted class names (regression: values in the target's units) as CSV."),
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
        let labelsPath = command.isSet("labels") ? try command.string("labels") : nil
        if let labelsPath, !labelsPath.lowercased().hasSuffix(".csv") {
            throw UsageError(context: command.context, problem: "option '--labels' writes CSV; give a FILE.csv, got '\(labelsPath)'")
        }
        let checkpoint = try CheckpointFile.load(path)
        let model = try checkpoint.makeModel(path: path)
        let schema = command.isSet("schema") ? try DatasetSchema.load(path: try command.string("schema")) : nil
        var preprocessing = checkpoint.metadata.preprocessing
        let csv = dataPath.lowercased().hasSuffix(".csv")
        if let schema {
            guard csv else { throw UsageError(context: command.context, problem: "--schema reads CSV; \(dataPath) is not a .csv file") }
            if let stored = preprocessing {
                guard schema.isFitted(as: stored.schema) else {
                    throw CommandError("\(try command.string("schema")): differs from the schema of the preprocessing stored in \(path); drop --schema to use the checkpoint's")
                }
            } else {
                Terminal.error("warning: \(path) carries no preprocessing; fitting the schema's feature statistics on \(dataPath) itself")
                let raw = try SchemaReader.read(path: dataPath, schema: schema, predicting: true)
                preprocessing = try FittedPreprocessing.fit(schema: schema, rows: raw.unlabelled)
            }
        }
        let inputs: Tensor
        if let preprocessing, csv {
            let encoded = try preprocessing.predictionInputs(path: dataPath)
            guard encoded.columns == model.inputShape.reduce(1, *) else {
                throw CommandError("\(dataPath): the schema encodes \(encoded.columns) values per sample; \(path) expects input \(model.inputShape)")
            }
            inputs = encoded.reshaped([encoded.rows] + model.inputShape)
        } else {
            inputs = try PredictionInput.load(path: dataPath, key: command.isSet("key") ? try command.string("key") : nil,
                                              layout: command.isSet("layout") ? layout : nil, label: try command.string("label"),
                                              labelRequired: command.isSet("label"), modelInputShape: model.inputShape)
        }
        var lastReport = Date()
        let logits = BatchPrediction.logits(model, inputs: inputs, batchSize: batchSize) { done, total in
            if done == total || Date().timeIntervalSince(lastReport) >= 1 {
                Terminal.progress("predict: \(done)/\(total) samples")
                lastReport = Date()
            }
        }
        try LogitsFile.write(logits, to: out)
        Terminal.progress("wrote \(out): logits [\(logits.rows), \(logits.columns)] for \(dataPath)")
        if let labelsPath {
            try PredictedLabels.write(logits, preprocessing: preprocessing, to: labelsPath)
            Terminal.progress("wrote \(labelsPath): \(preprocessing?.schema.label.isRegression == true ? "predicted values" : "predicted classes") for \(logits.rows) samples")
        }
    }
}
