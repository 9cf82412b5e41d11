import CohortCheckpoint
import CohortData
import CohortNN
import Foundation

/// `cohort evaluate`: a checkpoint's metrics on a labelled dataset.
enum EvaluateCommand {
    static let spec = CommandSpec(
        ["evaluate"], summary: "Score a checkpoint on labelled data: accuracy, balanced accuracy, macro F1, AUROC, confusion matrix (regression: MAE, RMSE, R²).",
        discussion: """
        Unlabelled rows in the file are skipped. A checkpoint that carries preprocessing (from pretrain --schema) reads the \
        raw CSV with its schema and fitted statistics; --schema is then optional and must describe the same features. \
        With --schema and a checkpoint without preprocessing, the statistics are fitted on the evaluated file itself. \
        A schema with a regression label reports MAE and RMSE in the target's original units, and R².
        """,
        options: [
            OptionSpec("data", value: "FILE", help: "Labelled data (.ctf or .csv)."),
            OptionSpec("label", value: "COLUMN", help: "CSV label column.", default: "target"),
            OptionSpec("schema", value: "FILE", help: "Dataset schema for reading CSV columns by name (see the discussion)."),
            .flag("json", help: "Print the metrics as JSON."),
        ],
        positionals: [PositionalSpec("checkpoint", help: "The checkpoint to evaluate.")])

    static func run(_ command: ParsedCommand) throws {
        guard let path = command.positional("checkpoint") else { throw UsageError(context: command.context, problem: "missing the checkpoint to evaluate") }
        let checkpoint = try CheckpointFile.load(path)
        let model = try checkpoint.makeModel(path: path)
        let dataPath = try command.string("data")
        let schema = command.isSet("schema") ? try DatasetSchema.load(path: try command.string("schema")) : nil
        let data: LabelledData
        if let fitted = checkpoint.metadata.preprocessing {
            if let schema, !schema.isFitted(as: fitted.schema) {
                throw CommandError("\(try command.string("schema")): differs from the schema of the preprocessing stored in \(path); drop --schema to use the checkpoint's")
            }
            data = try fitted.load(path: dataPath).labelled
        } else if let schema {
            Terminal.error("warning: \(path) carries no preprocessing; fitting the schema's statistics on \(dataPath) itself")
            let raw = try SchemaReader.read(path: dataPath, schema: schema)
            data = try FittedPreprocessing.fit(schema: schema, rows: raw.allInputs, targets: raw.labelled.targets).apply(raw).labelled
        } else {
            data = try SiteData.load(path: dataPath, label: try command.string("label")).labelled
        }
        guard data.count > 0 else { throw CommandError("\(dataPath): no labelled rows to evaluate on") }
        guard data.inputs.columns == model.inputShape.reduce(1, *) else {
            throw CommandError("\(dataPath): \(data.inputs.columns) values per sample; \(path) expects input \(model.inputShape)")
        }
        if data.isRegression {
            // Errors in the target's original units (the checkpoint's target statistics undo the standardisation).
            let report = try Inference.regressionReport(model, data)
            if command.flag("json") { print(try Terminal.json(report)) } else { print(report.description) }
            return
        }
        let report = try Inference.report(model, data)
        // The checkpoint's class names (from its preprocessing) head the confusion matrix.
        let names = checkpoint.metadata.preprocessing?.classNames ?? schema?.label.classes
        if command.flag("json") { print(try Terminal.json(report)) } else { print(report.described(classNames: names)) }
    }
}
