import CohortAdapt
import CohortCheckpoint
import CohortData
import CohortNN
import Foundation

/// `cohort adapt`: adapt a checkpoint to a target site's data and save the result.
enum AdaptCommand {
    static let spec = CommandSpec(
        ["adapt"], summary: "Adapt a checkpoint to a target site (AdaBN, TENT, SHOT, DANN, CORAL, MMD, prototypes) and save it.",
        discussion: """
        adabn, tent and shot use only the target's inputs (labelled or not), never its labels. dann, coral and mmd \
        also train on labelled --source data. prototypes turn the last (dense) layer into a nearest-prototype classifier \
        built from the target's labelled rows. Accuracy before and after is measured on the target's labelled rows \
        (for prototypes and --guard, on the --val-fraction held out from them); without labels the summary gives \
        prediction entropy and confidence. The checkpoint is written atomically; its metadata names the method. A checkpoint that carries \
        preprocessing (pretrain --schema) reads CSV files with it and passes it on.
        """,
        options: [
            OptionSpec("model", value: "FILE", help: "The checkpoint to adapt."),
            OptionSpec("target", value: "FILE", help: "The target site's data (.ctf or .csv)."),
            OptionSpec("source", value: "FILE", help: "Labelled source data for dann, coral and mmd (repeatable; pooled).", repeatable: true),
            OptionSpec("method", value: "METHOD", help: "adabn, tent, shot, dann, coral, mmd or prototypes."),
            OptionSpec("out", value: "FILE", help: "Adapted checkpoint to write."),
            OptionSpec("label", value: "COLUMN", help: "CSV label column.", default: "target"),
            OptionSpec("epochs", value: "N", help: "Passes (TENT 1, SHOT 5, DANN/CORAL/MMD 3 over the source)."),
            OptionSpec("lr", value: "RATE", help: "Learning rate (TENT 0.001; the others 0.0003)."),
            OptionSpec("batch-size", value: "N", help: "Rows per batch (per domain for dann/coral/mmd).", default: "64"),
            OptionSpec("domain-weight", value: "W", help: "Weight of the DANN / CORAL / MMD term.", default: "1"),
            OptionSpec("head-layers", value: "N", help: "Final layers forming the classifier head.", default: "1"),
            OptionSpec("cut-at", value: "NODE", help: "Graph models: the feature node the head reads (e.g. avgpool, pool); overrides --head-layers."),
            OptionSpec("max-source", value: "N", help: "Use at most N source rows (seeded random subset)."),
            OptionSpec("val-fraction", value: "F", help: "Labelled target rows held out for prototypes and --guard.", default: "0.3"),
            .flag("guard", help: "Negative-transfer guard: keep the best of adapted, incoming and a small from-scratch model on validation."),
            OptionSpec("seed", value: "N", help: "Seed for shuffling, subsets and splits.", default: "0"),
            .flag("json", help: "Print the summary as JSON."),
        ])

    static func run(_ command: ParsedCommand) throws {
        let methodName = try command.string("method")
        guard let method = AdaptationMethod(rawValue: methodName) else {
            throw UsageError(context: command.context, problem: "option '--method' expects one of \(AdaptationMethod.allCases.map(\.rawValue).joined(separator: ", ")), got '\(methodName)'")
        }
        let sourcePaths = command.strings("source")
        if method.needsSource && sourcePaths.isEmpty {
            throw UsageError(context: command.context, problem: "method \(method.rawValue) needs labelled source data: give --source FILE")
        }
        if !method.needsSource && !sourcePaths.isEmpty {
            throw UsageError(context: command.context, problem: "option '--source' is used only by dann, coral and mmd, not \(method.rawValue)")
        }
        let modelPath = try command.string("model"), targetPath = try command.string("target"), out = try command.string("out")
        var settings = TargetAdaptation.Settings()
        if command.isSet("epochs") { settings.epochs = try command.int("epochs", range: 0...100_000) }
        if command.isSet("lr") { settings.learningRate = Float(try command.double("lr", range: 1e-9...100)) }
        settings.batchSize = try command.int("batch-size", range: 2...1_000_000)
        settings.domainWeight = Float(try command.double("domain-weight", range: 0...1e6))
        settings.headLayers = try command.int("head-layers", range: 1...10_000)
        if command.isSet("max-source") { settings.maxSourceRows = try command.int("max-source", range: 2...) }
        settings.seed = UInt64(try command.int("seed", range: 0...))
        settings.negativeTransferGuard = command.flag("guard")
        let valFraction = try command.double("val-fraction", range: 0.05...0.9)
        let label = try command.string("label")

        let checkpoint = try CheckpointFile.load(modelPath)
        let model = try checkpoint.makeModel(path: modelPath)
        if command.isSet("cut-at") {
            let node = try command.string("cut-at")
            guard let index = model.layers.firstIndex(where: { $0.name == node }), index + 1 < model.layers.count else {
                throw CommandError("--cut-at: no node named '\(node)' with layers after it in \(modelPath)")
            }
            settings.headLayers = model.layers.count - index - 1
        }
        let classes = model.outputShape.reduce(1, *)
        // A checkpoint that carries preprocessing reads raw CSV with it (and passes it on).
        let preprocessing = checkpoint.metadata.preprocessing
        func read(_ path: String) throws -> SiteData {
            let csv = path.lowercased().hasSuffix(".csv")
            if csv, let preprocessing { return try preprocessing.load(path: path) }
            return try SiteData.load(path: path, label: label, classes: csv ? classes : nil)
        }
        let target = try read(targetPath)
        try checkShape(targetPath, target, model: model, modelPath: modelPath)
        var source: LabelledData?
        if !sourcePaths.isEmpty {
            let parts = try sourcePaths.map(read)
            for (path, part) in zip(sourcePaths, parts) { try checkShape(path, part, model: model, modelPath: modelPath) }
            source = try SiteData.pool(parts, paths: sourcePaths).labelled
            guard source!.count >= 2 else { throw CommandError("\(sourcePaths.joined(separator: ", ")): \(method.rawValue) needs labelled source rows, found \(source!.count)") }
        }
        if method.needsTargetLabels && target.labelled.count == 0 {
            throw CommandError("\(targetPath): prototypes need labelled rows; all \(target.unlabelled.rows) rows are unlabelled")
        }
        if settings.negativeTransferGuard && target.labelled.count < 2 {
            throw CommandError("\(targetPath): --guard needs at least 2 labelled rows (a scratch model and a validation split), found \(target.labelled.count)")
        }
        let holdOut = method.needsTargetLabels || settings.negativeTransferGuard
        let (support, validation) = holdOut
            ? { let s = target.split(validationFraction: valFraction, seed: settings.seed); return (s.train.labelled, s.validation.labelled) }()
            : (target.labelled, target.labelled)
        let outcome: TargetAdaptation.Outcome
        do {
            outcome = try TargetAdaptation.run(model, method: method, target: target.allInputs, support: support, validation: validation,
                                               source: source, settings: settings)
        } catch let error as AdaptationError {
            throw CommandError("\(method.rawValue) on \(targetPath): \(error)")
        }
        let summary = outcome.summary
        let json = try Terminal.json(summary)
        var metrics: [String: Double] = ["entropy_before": summary.before.meanEntropy, "entropy_after": summary.after.meanEntropy]
        if let a = summary.accuracyBefore { metrics["accuracy_before"] = a }
        if let a = summary.accuracyAfter { metrics["accuracy_after"] = a }
        let origin = "cohort adapt --method \(method.rawValue) from \(modelPath) on \(targetPath)"
            + (sourcePaths.isEmpty ? "" : " with source \(sourcePaths.joined(separator: ", "))")
            + (summary.guardReport.map { "; guard kept \($0.winner.rawValue)" } ?? "")
        try CheckpointFile.save(Checkpoint(model: outcome.model, metadata: CheckpointMetadata(source: origin, history: [json], metrics: metrics,
                                                                                                          preprocessing: preprocessing)), to: out)
        if command.flag("json") { print(json) } else { print(AdaptationText.describe(summary, target: targetPath, out: out)) }
    }

    private static func checkShape(_ path: String, _ data: SiteData, model: Sequential, modelPath: String) throws {
        guard data.features == model.inputShape.reduce(1, *) else {
            throw CommandError("\(path): \(data.features) values per sample (shape \(data.sampleShape)); \(modelPath) expects input \(model.inputShape)")
        }
    }
}
