import CohortAdapt
import CohortCheckpoint
import CohortData
import CohortNN
import Foundation

/// `cohort rank`: LogME transferability of candidate checkpoints for a labelled task.
enum RankCommand {
    static let spec = CommandSpec(
        ["rank"], summary: "Rank checkpoints (and cut layers) by LogME on labelled site data, best first, without fine-tuning.",
        discussion: """
        LogME (You et al. 2021) is the evidence of a Bayesian linear model on the frozen features; higher means the \
        features suit the labels better. Features are those entering the last layer unless --cut or --all-cuts says \
        otherwise; image feature maps are averaged over positions. Only labelled rows count. With several --data files \
        the ranking key is the mean over them.
        """,
        options: [
            OptionSpec("models", value: "FILE", help: "Candidate checkpoints (repeatable).", repeatable: true),
            OptionSpec("data", value: "FILE", help: "Labelled site data (.ctf or .csv; repeatable).", repeatable: true),
            OptionSpec("cut", value: "N", help: "Score the features after the first N layers (repeatable).", repeatable: true),
            .flag("all-cuts", help: "Score every cut from layer 1 to the last-but-one."),
            OptionSpec("label", value: "COLUMN", help: "CSV label column.", default: "target"),
            .flag("json", help: "Print the ranking as JSON."),
        ])

    static func run(_ command: ParsedCommand) throws {
        let modelPaths = command.strings("models"), dataPaths = command.strings("data")
        guard !modelPaths.isEmpty else { throw UsageError(context: command.context, problem: "give --models FILE ... (the checkpoints to rank)") }
        guard !dataPaths.isEmpty else { throw UsageError(context: command.context, problem: "give --data FILE ... (labelled site data)") }
        if command.flag("all-cuts") && command.isSet("cut") {
            throw UsageError(context: command.context, problem: "give --cut or --all-cuts, not both")
        }
        let cuts = try command.ints("cut", range: 1...)
        let label = try command.string("label")
        let models = try zip(SiteNames.short(modelPaths), modelPaths).map { (name: $0, model: try CheckpointFile.load($1).makeModel(path: $1)) }
        let data = try zip(SiteNames.short(dataPaths), dataPaths).map { name, path -> (name: String, data: LabelledData, classes: Int) in
            let site = try SiteData.load(path: path, label: label)
            guard site.labelled.count >= 2 else { throw CommandError("\(path): LogME needs labelled rows, found \(site.labelled.count)") }
            return (name, site.labelled, site.classes)
        }
        var rows: [TransferabilityRanking.Row] = []
        do {
            if command.flag("all-cuts") {
                for m in models { rows += try TransferabilityRanking.rank(models: [m], data: data, cuts: Array(1..<max(m.model.layers.count, 2))) }
                rows.sort { $0.mean > $1.mean }
            } else {
                for m in models {
                    if let bad = cuts.first(where: { $0 > m.model.layers.count }) {
                        throw UsageError(context: command.context, problem: "option '--cut' \(bad) is past the last layer of \(m.name) (\(m.model.layers.count) layers)")
                    }
                }
                rows = try TransferabilityRanking.rank(models: models, data: data, cuts: cuts.isEmpty ? nil : cuts)
            }
        } catch let error as AdaptationError {
            throw CommandError("rank: \(error)")
        }
        if command.flag("json") { print(try Terminal.json(RankReport(data: data.map(\.name), ranking: rows))); return }
        let nameWidth = max(5, rows.map(\.model.count).max() ?? 5), layerWidth = max(5, rows.map(\.layer.count).max() ?? 5)
        print("rank  " + "model".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  cut  " + "layer".padding(toLength: layerWidth, withPad: " ", startingAt: 0)
              + "  features      LogME" + (data.count > 1 ? "  " + data.map(\.name).joined(separator: "  ") : ""))
        for (i, r) in rows.enumerated() {
            print(String(format: "%4d  ", i + 1) + r.model.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + String(format: "  %3d  ", r.cut)
                  + r.layer.padding(toLength: layerWidth, withPad: " ", startingAt: 0) + String(format: "  %8d  %9.4f", r.features, r.mean)
                  + (data.count > 1 ? "  " + data.map { String(format: "%.4f", r.perData[$0.name] ?? .nan) }.joined(separator: "  ") : ""))
        }
    }

    /// The `--json` output: rows best first.
    struct RankReport: Encodable {
        var data: [String]
        var ranking: [TransferabilityRanking.Row]
    }
}
