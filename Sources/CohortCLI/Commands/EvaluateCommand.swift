import CohortCheckpoint
import CohortData
import CohortNN
import Foundation

/// `cohort evaluate`: a checkpoint's metrics on a labelled dataset.
enum EvaluateCommand {
    static let spec = CommandSpec(
        ["evaluate"], summary: "Score a checkpoint on labelled data: accuracy, balanced accuracy, macro F1, AUROC, confusion matrix.",
        discussion: "Unlabelled rows in the file are skipped.",
        options: [
            OptionSpec("data", value: "FILE", help: "Labelled data (.ctf or .csv)."),
            OptionSpec("label", value: "COLUMN", help: "CSV label column.", default: "target"),
            .flag("json", help: "Print the metrics as JSON."),
        ],
        positionals: [PositionalSpec("checkpoint", help: "The checkpoint to evaluate.")])

    static func run(_ command: ParsedCommand) throws {
        guard let path = command.positional("checkpoint") else { throw UsageError(context: command.context, problem: "missing the checkpoint to evaluate") }
        let model = try CheckpointFile.load(path).makeModel(path: path)
        let dataPath = try command.string("data")
        let data = try SiteData.load(path: dataPath, label: try command.string("label")).labelled
        guard data.count > 0 else { throw CommandError("\(dataPath): no labelled rows to evaluate on") }
        guard data.inputs.columns == model.inputShape.reduce(1, *) else {
            throw CommandError("\(dataPath): \(data.inputs.columns) values per sample; \(path) expects input \(model.inputShape)")
        }
        let report = try Inference.report(model, data)
        if command.flag("json") { print(try Terminal.json(report)) } else { print(report.description) }
    }
}
