import CohortData
import Foundation

/// `cohort schema infer`: draft a dataset schema from a CSV file.
enum SchemaInferCommand {
    static let spec = CommandSpec(
        ["schema", "infer"], summary: "Draft a dataset schema (protocols/dataset-schema.md) from a CSV file; print a summary.",
        discussion: """
        Finds each column's type (numeric, binary, categorical; text columns with too many values are ignored), its missing \
        cells and categories, and the label's classes, or a continuous regression target (proposed for a numeric label with \
        more than 30 distinct values; --task forces either). Numeric columns fill missing cells with the median, the others with the \
        most frequent value. Read the draft and edit it before use; give it to node, pretrain and evaluate with --schema.
        """,
        options: [
            OptionSpec("label", value: "COLUMN", help: "The label column.", default: "target"),
            OptionSpec("task", value: "classification|regression", help: "What the label is (default: regression for a numeric label with more than 30 distinct values)."),
            OptionSpec("missing", value: "LIST", help: "Comma-separated cells that mean missing (default: empty, NA, NaN, ?)."),
            OptionSpec("out", value: "FILE", help: "Write the schema JSON here (default: print it)."),
            .flag("learn-categories", help: "Leave text columns' categories out: they are learned in the federated statistics round (plan preprocessing.fit federated; not under secureAggregation or privacy)."),
        ],
        positionals: [PositionalSpec("file", help: "The CSV file to read.")])

    static func run(_ command: ParsedCommand) throws {
        guard let path = command.positional("file") else { throw UsageError(context: command.context, problem: "missing the CSV file to read") }
        let markers = command.isSet("missing")
            ? try command.string("missing").split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            : DatasetSchema.defaultMissing
        var task: DatasetSchema.LabelTask? = nil
        if command.isSet("task") {
            let text = try command.string("task")
            guard let t = DatasetSchema.LabelTask(rawValue: text.lowercased()) else {
                throw UsageError(context: command.context, problem: "option '--task' expects classification or regression, got '\(text)'")
            }
            task = t
        }
        let inferred = try SchemaInference.infer(path: path, label: try command.string("label"), missing: markers, task: task,
                                                  learnCategories: command.flag("learn-categories"))
        let json = String(decoding: try inferred.schema.json(), as: UTF8.self)
        if command.isSet("out") {
            let out = try command.string("out")
            do { try Data((json + "\n").utf8).write(to: URL(fileURLWithPath: out), options: .atomic) } catch {
                throw CommandError("cannot write '\(out)': \(error.localizedDescription)")
            }
            print(inferred.summary(path: path))
            print("wrote \(out)")
        } else {
            print(json)
            Terminal.progress(inferred.summary(path: path))
        }
    }
}
