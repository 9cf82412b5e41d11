import CohortAdapt
import CohortCheckpoint
import CohortData
import CohortNN
import CohortTensor
import Foundation

/// `cohort shift`: how far each site's data lies from the source in a model's feature space.
enum ShiftCommand {
    static let spec = CommandSpec(
        ["shift"], summary: "Per-site domain shift from the source in a model's features: MMD and proxy A-distance.",
        discussion: """
        Every row of each file counts, labelled or not. Features are taken after --cut layers (default: everything \
        but the last layer). MMD uses Gaussian kernels with bandwidths fixed from the source features, so rows are \
        comparable across sites; the proxy A-distance is 2(1 − 2ε) for the held-out error ε of a logistic regression \
        telling source from site features (0: indistinguishable, 2: fully separable).
        """,
        options: [
            OptionSpec("model", value: "FILE", help: "The checkpoint whose features are compared."),
            OptionSpec("source", value: "FILE", help: "Source data (.ctf or .csv; repeatable, pooled).", repeatable: true),
            OptionSpec("sites", value: "FILE", help: "One data file per site (repeatable).", repeatable: true),
            OptionSpec("cut", value: "N", help: "Compare the features after the first N layers (default: all but the last)."),
            OptionSpec("max-samples", value: "N", help: "Rows drawn per domain.", default: "400"),
            OptionSpec("label", value: "COLUMN", help: "CSV label column (ignored, but not a feature).", default: "target"),
            OptionSpec("seed", value: "N", help: "Seed for the row draws and the domain classifier.", default: "0"),
            .flag("json", help: "Print the table as JSON."),
        ])

    static func run(_ command: ParsedCommand) throws {
        let sourcePaths = command.strings("source"), sitePaths = command.strings("sites")
        guard !sourcePaths.isEmpty else { throw UsageError(context: command.context, problem: "give --source FILE (the data the model was trained on)") }
        guard !sitePaths.isEmpty else { throw UsageError(context: command.context, problem: "give --sites FILE ... (one data file per site)") }
        let modelPath = try command.string("model")
        let model = try CheckpointFile.load(modelPath).makeModel(path: modelPath)
        let cut = command.isSet("cut") ? try command.int("cut", range: 0...model.layers.count) : model.layers.count - 1
        var config = DomainShift.Config()
        config.maxSamples = try command.int("max-samples", range: 4...100_000)
        config.seed = UInt64(try command.int("seed", range: 0...))
        let label = try command.string("label")
        func inputs(_ path: String) throws -> Tensor {
            let data = try SiteData.load(path: path, label: label)
            guard data.features == model.inputShape.reduce(1, *) else {
                throw CommandError("\(path): \(data.features) values per sample; \(modelPath) expects input \(model.inputShape)")
            }
            return data.allInputs
        }
        let sourceParts = try sourcePaths.map(inputs)
        let source = Tensor(shape: [sourceParts.reduce(0) { $0 + $1.rows }, sourceParts[0].columns], data: sourceParts.flatMap(\.data))
        let sites = try zip(SiteNames.short(sitePaths), sitePaths).map { (name: $0, inputs: try inputs($1)) }
        let rows: [ShiftRow]
        do { rows = try DomainShift.measure(model: model, cutAt: cut, source: source, sites: sites, config: config) } catch let error as DomainTrainingError {
            throw CommandError("shift: \(error)")
        }
        if command.flag("json") {
            print(try Terminal.json(ShiftReport(model: modelPath, cut: cut, layer: cut > 0 ? model.layers[cut - 1].name : "input", sites: rows)))
            return
        }
        print("domain shift from the source in \(modelPath)'s features after layer \(cut) (\(cut > 0 ? model.layers[cut - 1].name : "input"))")
        let width = max(4, rows.map(\.site.count).max() ?? 4)
        print("site".padding(toLength: width, withPad: " ", startingAt: 0) + "        MMD  proxy A-dist  domain error  rows/domain")
        for r in rows {
            print(r.site.padding(toLength: width, withPad: " ", startingAt: 0)
                  + String(format: " %10.4f  %12.3f  %12.3f  %11d", r.mmd, r.proxyADistance, r.domainError, r.samplesPerDomain))
        }
    }

    /// The `--json` output.
    struct ShiftReport: Encodable {
        var model: String
        var cut: Int
        var layer: String
        var sites: [ShiftRow]
    }
}
