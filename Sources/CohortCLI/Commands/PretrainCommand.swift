import CohortAdapt
import CohortCheckpoint
import CohortData
import CohortNN
import Foundation

/// `cohort pretrain`: train (or fine-tune) a model on a dataset and save a checkpoint.
enum PretrainCommand {
    static let spec = CommandSpec(
        ["pretrain"], summary: "Train a model from an architecture (or fine-tune a checkpoint) on labelled data; save the best checkpoint.",
        discussion: """
        Data files are tensor files (.ctf, see protocols/tensor-file.md) or CSV with a header row. \
        Several --data files are pooled. Without --val, --val-fraction of the labelled rows is held out; \
        the checkpoint keeps the epoch with the best validation accuracy. With --schema the preprocessing (fills, \
        standardisation, one-hot categories) is fitted on the training rows only and saved in the checkpoint; an --init \
        checkpoint that carries preprocessing applies it to the raw CSV files and passes it on.
        """,
        options: ArchitectureOptions.options + [
            OptionSpec("data", value: "FILE", help: "Training data (.ctf or .csv); repeat to pool several files. With an image schema: one ImageFolder (root/<class>/*.png|*.jpg), streamed.", repeatable: true),
            OptionSpec("val", value: "FILE", help: "Validation data (default: hold out --val-fraction of --data)."),
            OptionSpec("init", value: "FILE", help: "Checkpoint to fine-tune instead of a fresh model."),
            OptionSpec("out", value: "FILE", help: "Checkpoint to write."),
            OptionSpec("label", value: "COLUMN", help: "CSV label column.", default: "target"),
            OptionSpec("schema", value: "FILE", help: "Dataset schema (protocols/dataset-schema.md): read CSV columns by name, fit the preprocessing on the training rows and store it in the checkpoint; or an image schema (resize, grey/RGB, normalisation) for an ImageFolder."),
            OptionSpec("epochs", value: "N", help: "Passes over the training data.", default: "10"),
            OptionSpec("batch-size", value: "N", help: "Samples per step.", default: "32"),
            OptionSpec("lr", value: "RATE", help: "Learning rate (cosine-decayed).", default: "0.05"),
            OptionSpec("momentum", value: "M", help: "SGD momentum.", default: "0.9"),
            OptionSpec("weight-decay", value: "W", help: "L2 weight decay.", default: "0"),
            OptionSpec("l2sp", value: "ALPHA", help: "Pull toward the --init weights (L2-SP strength).", default: "0"),
            OptionSpec("train-prefix", value: "NAME", help: "Train only tensors under this name prefix (repeatable).", repeatable: true),
            OptionSpec("val-fraction", value: "F", help: "Fraction held out when --val is not given.", default: "0.2"),
            OptionSpec("patience", value: "N", help: "Stop after N epochs without a better validation accuracy."),
            OptionSpec("seed", value: "N", help: "Seed for initialisation, split and shuffling.", default: "0"),
            OptionSpec("loss", value: "mse|mae|huber[:DELTA]", help: "Loss for a schema's regression target (standardised units).", default: "mse"),
        ])

    static func run(_ command: ParsedCommand) throws {
        let dataPaths = command.strings("data")
        guard !dataPaths.isEmpty else { throw UsageError(context: command.context, problem: "give at least one --data FILE") }
        guard ArchitectureOptions.isGiven(command) != command.isSet("init") else {
            throw UsageError(context: command.context, problem: "give exactly one of --arch/--preset (fresh model) or --init (checkpoint to fine-tune)")
        }
        let out = try command.string("out")
        let seed = UInt64(try command.int("seed", range: 0...))
        let label = try command.string("label")
        let initCheckpoint = command.isSet("init") ? try CheckpointFile.load(try command.string("init")) : nil
        let carried = initCheckpoint?.metadata.preprocessing
        let schemaFile = command.isSet("schema") ? try SchemaFile.load(path: try command.string("schema")) : nil
        if case .images(let imageSchema)? = schemaFile {
            return try runImages(command, schema: imageSchema, dataPaths: dataPaths, initCheckpoint: initCheckpoint, seed: seed, out: out)
        }
        let schema: DatasetSchema? = if case .table(let s)? = schemaFile { s } else { nil }
        if carried != nil && schema != nil {
            throw UsageError(context: command.context, problem: "the --init checkpoint already carries its preprocessing; drop --schema")
        }
        let valPath = command.isSet("val") ? try command.string("val") : nil
        let valFraction = try command.double("val-fraction", range: 0...0.9)
        var train: LabelledData, validation: LabelledData
        var preprocessing: FittedPreprocessing? = carried
        if let schema {
            let prepared = try SchemaPipeline.prepare(paths: dataPaths, schema: schema, validationPath: valPath, validationFraction: valFraction, seed: seed)
            (train, validation, preprocessing) = (prepared.train.labelled, prepared.validation.labelled, prepared.preprocessing)
        } else {
            let read: (String) throws -> SiteData = { path in try carried.map { try $0.load(path: path) } ?? SiteData.load(path: path, label: label) }
            let pooled = try SiteData.pool(try dataPaths.map(read), paths: dataPaths)
            train = pooled.labelled
            if let valPath {
                validation = try read(valPath).labelled
            } else {
                let parts = pooled.split(validationFraction: valFraction, seed: seed)
                (train, validation) = (parts.train.labelled, parts.validation.labelled)
            }
        }
        let model: Sequential
        var source: String
        if let initCheckpoint {
            let initPath = try command.string("init")
            model = try initCheckpoint.makeModel(path: initPath)
            source = "fine-tuned from \(initPath) on \(dataPaths.joined(separator: ", "))"
        } else {
            let (arch, archPath) = try ArchitectureOptions.load(command)
            do { model = try Sequential(spec: arch, seed: seed) } catch {
                throw CommandError("\(archPath): \(error)")
            }
            source = "trained from scratch on \(dataPaths.joined(separator: ", "))"
        }
        if let preprocessing, preprocessing.encodedWidth != model.inputShape.reduce(1, *) {
            throw CommandError("the schema encodes \(preprocessing.encodedWidth) values per sample (\(preprocessing.schema.encodedNames.prefix(8).joined(separator: ", "))\(preprocessing.encodedWidth > 8 ? ", …" : "")); the model takes input \(model.inputShape)")
        }
        if train.isRegression, model.outputShape.reduce(1, *) != 1 {
            throw CommandError("the schema's label '\(preprocessing?.schema.label.column ?? "")' is one regression target; the model outputs \(model.outputShape) (give it a head of 1 unit)")
        }
        let settings = try trainingSettings(command, seed: seed)
        Terminal.progress("pretrain: \(train.count) training and \(validation.count) validation samples, \(model.parameterCount) parameters, \(settings.epochs) epochs")
        let history = try FineTuning.run(model, train: train, validation: validation, settings: settings,
                                         progress: epochProgress(settings, regression: train.isRegression))
        var extra: [String: Double] = [:]
        if validation.isRegression, validation.count > 0 {
            let r = try Inference.regressionReport(model, validation)
            extra = ["val_mae": r.mae, "val_rmse": r.rmse, "val_r2": r.r2].filter { $0.value.isFinite }
            Terminal.progress(String(format: "pretrain: validation MAE %.4g, RMSE %.4g (original units), R² %.4f", r.mae, r.rmse, r.r2))
        }
        try save(model, history: history, source: source, preprocessing: preprocessing, to: out, extraMetrics: extra)
    }

    /// Training with an image schema: `--data` is one ImageFolder; training images are decoded
    /// batch by batch (memory bounded by the batch size), the validation part is decoded once.
    static func runImages(_ command: ParsedCommand, schema: ImageSchema, dataPaths: [String], initCheckpoint: Checkpoint?,
                          seed: UInt64, out: String) throws {
        guard dataPaths.count == 1 else {
            throw UsageError(context: command.context, problem: "with an image schema give one --data FOLDER (root/<class>/*.png|*.jpg)")
        }
        guard !command.isSet("val") else { throw UsageError(context: command.context, problem: "--val is not supported with an image schema; use --val-fraction") }
        let valFraction = try command.double("val-fraction", range: 0...0.9)
        let npz = dataPaths[0].lowercased().hasSuffix(".npz")
        // A `.npz` archive (MedMNIST layout) is kept as uint8 and an ImageFolder on disk; both
        // are prepared batch by batch.
        let parts = npz ? try NpzImageSet.open(path: dataPaths[0], schema: schema) : nil
        let site = npz ? nil : try ImageSite.open(root: dataPaths[0], schema: schema, validationFraction: valFraction, seed: seed)
        let classNames = parts?.classNames ?? site!.folder.classNames
        let model: Sequential
        let source: String
        if let initCheckpoint {
            let initPath = try command.string("init")
            model = try initCheckpoint.makeModel(path: initPath)
            source = "fine-tuned from \(initPath) on \(dataPaths[0])"
        } else {
            let (arch, archPath) = try ArchitectureOptions.load(command)
            do { model = try Sequential(spec: arch, seed: seed) } catch { throw CommandError("\(archPath): \(error)") }
            source = "trained from scratch on \(dataPaths[0])"
        }
        guard model.inputShape.reduce(1, *) == schema.sampleWidth else {
            throw CommandError("the image schema prepares \(schema.inputShape) images; the model takes input \(model.inputShape)")
        }
        guard model.outputShape.reduce(1, *) == classNames.count else {
            throw CommandError("\(dataPaths[0]) has \(classNames.count) classes (\(classNames.prefix(8).joined(separator: ", "))); the model outputs \(model.outputShape)")
        }
        let settings = try trainingSettings(command, seed: seed)
        let history: TrainingHistory
        if let parts {
            let (train, val) = parts.trainAndValidation(validationFraction: valFraction, seed: seed)
            let validation = try val.all()
            Terminal.progress("pretrain: \(train.count) training images (streamed) and \(validation.count) validation images, \(classNames.count) classes, \(model.parameterCount) parameters, \(settings.epochs) epochs")
            let calibration = try train.batch(ArraySlice(ImageSite.calibrationPositions(count: train.count))).inputs
            history = try FineTuning.run(model, source: train, calibration: calibration, validation: validation,
                                         settings: settings, progress: epochProgress(settings))
        } else if let site {
            let validation = try site.validation.all()
            Terminal.progress("pretrain: \(site.train.count) training images (streamed) and \(validation.count) validation images, \(classNames.count) classes, \(model.parameterCount) parameters, \(settings.epochs) epochs")
            history = try FineTuning.run(model, source: site.train, calibration: try site.calibrationSample(), validation: validation,
                                         settings: settings, progress: epochProgress(settings))
        } else { return }
        try save(model, history: history, source: source + " (classes: \(classNames.joined(separator: ", ")))", preprocessing: nil, to: out)
    }

    static func epochProgress(_ settings: FineTuning.Settings, regression: Bool = false) -> (EpochRecord) -> Void {
        { e in
            if regression {
                return Terminal.progress(String(format: "pretrain: epoch %d/%d  loss %.4f  val R² %@  %.1f s", e.epoch + 1, settings.epochs,
                                                e.trainLoss, e.validationScore.map { String(format: "%.3f", $0) } ?? "n/a", e.seconds))
            }
            Terminal.progress(String(format: "pretrain: epoch %d/%d  loss %.4f  train acc %.3f  val acc %@  %.1f s", e.epoch + 1, settings.epochs,
                                     e.trainLoss, e.trainAccuracy, e.validationScore.map { String(format: "%.3f", $0) } ?? "n/a", e.seconds))
        }
    }

    static func save(_ model: Sequential, history: TrainingHistory, source: String, preprocessing: FittedPreprocessing?, to out: String,
                     extraMetrics: [String: Double] = [:]) throws {
        let best = history.epochs[history.selectedEpoch]
        var metrics: [String: Double] = ["epoch": Double(history.selectedEpoch + 1), "train_loss": Double(best.trainLoss)]
        // A regression run selects on R² (its val_* metrics come in `extraMetrics`).
        if let v = best.validationScore, extraMetrics.isEmpty { metrics["val_accuracy"] = Double(v) }
        metrics.merge(extraMetrics) { a, _ in a }
        let history_lines = try history.epochs.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        try CheckpointFile.save(Checkpoint(model: model, metadata: CheckpointMetadata(source: source, history: history_lines, metrics: metrics,
                                                                                                    preprocessing: preprocessing)), to: out)
        Terminal.progress("pretrain: saved \(out) (epoch \(history.selectedEpoch + 1), val \(extraMetrics.isEmpty ? "acc" : "R²") \(best.validationScore.map { String(format: "%.3f", $0) } ?? "n/a"))")
    }

    static func trainingSettings(_ command: ParsedCommand, seed: UInt64) throws -> FineTuning.Settings {
        var settings = FineTuning.Settings()
        settings.epochs = try command.int("epochs", range: 1...100_000)
        settings.batchSize = try command.int("batch-size", range: 1...1_000_000)
        settings.learningRate = Float(try command.double("lr", range: 1e-9...100))
        settings.momentum = Float(try command.double("momentum", range: 0...0.999))
        settings.weightDecay = Float(try command.double("weight-decay", range: 0...10))
        settings.l2spAlpha = Float(try command.double("l2sp", range: 0...1e6))
        let prefixes = command.strings("train-prefix")
        settings.trainablePrefixes = prefixes.isEmpty ? nil : prefixes
        if command.isSet("patience") { settings.patience = try command.int("patience", range: 1...100_000) }
        settings.seed = seed
        let lossText = try command.string("loss")
        guard let loss = RegressionLoss(text: lossText) else {
            throw UsageError(context: command.context, problem: "option '--loss' expects mse, mae, huber or huber:DELTA (DELTA > 0), got '\(lossText)'")
        }
        settings.regressionLoss = loss
        return settings
    }
}
