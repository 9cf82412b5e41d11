import CohortCheckpoint
import CohortData
import CohortFederation
import CohortNN
import CohortTensor
import CohortTransport
import Foundation

/// `cohort node`: a site that trains on its private CSV for the coordinator.
enum NodeCommand {
    static let spec = CommandSpec(
        ["node"], summary: "Run a site: connect out to the coordinator and train on local data each round.",
        discussion: """
        The data never leaves the site: only encoded weight deltas and metrics are sent; under secure aggregation or record-level \
        DP the site's scores stay here too (--share-metrics sends them). The node refuses a plan that asks for secure aggregation \
        without giving it its part, and with --require-* any plan without the named protection. TLS needs --tls-ca; plain TCP \
        needs --insecure. Unlabelled rows are used only by the plan's local adaptation step (see protocols/wire.md); a site with \
        no labelled rows can still join a plan whose adaptation step applies to it.
        """,
        options: [
            OptionSpec("coordinator", value: "HOST:PORT", help: "The coordinator's address.", default: "127.0.0.1:7070"),
            OptionSpec("name", value: "NAME", help: "This site's name (as in the coordinator's secrets file)."),
            OptionSpec("secret-file", value: "FILE", help: "File holding this site's hex secret."),
            OptionSpec("data", value: "FILE", help: "Training data: a tensor file (.ctf), CSV with a header row, or with an image schema an ImageFolder (root/<class>/*.png|*.jpg)."),
            OptionSpec("test", value: "FILE", help: "Held-out test data, scored for every model received and for the final model."),
            OptionSpec("label", value: "COLUMN", help: "The label column (integer classes).", default: "target"),
            OptionSpec("save-model", value: "FILE", help: "Write the model this site ends with (the final global weights with its own local tensors and adaptation, and its preprocessing) as a checkpoint, atomically."),
            OptionSpec("save-trained", value: "FILE", help: "After each plain round, write the tensors this site trained and sent (its weights before the delta is taken) as safetensors to FILE, replacing it: lets the coordinator's aggregate be checked against one computed another way (bench large-model --reference)."),
            OptionSpec("spill-dir", value: "DIR", help: "Where a plain round keeps the received global values of the tensors it trains while it trains, in an unlinked temporary file, when they total 256 MiB or more: training then holds two model-sized buffers (weights, momentum) instead of three; the delta is read back from the file as it is sent. The system's temporary directory by default."),
            .flag("global-in-memory", help: "Keep the received global model in memory while training (no temporary file, a third model-sized buffer)."),
            OptionSpec("schema", value: "FILE", help: "Dataset schema (protocols/dataset-schema.md): read CSV columns by name, the preprocessing fitted on this site's training rows (or, when the plan says preprocessing.fit federated, by the coordinator from every site's statistics); or an image schema for an ImageFolder."),
            OptionSpec("val-fraction", value: "F", help: "Fraction held out for validation.", default: "0.2"),
            OptionSpec("loss", value: "mse|mae|huber[:DELTA]", help: "Loss for a schema's regression target (standardised units); every site should use the same.", default: "mse"),
            OptionSpec("seed", value: "N", help: "Seed for the validation split.", default: "0"),
            OptionSpec("tls-ca", value: "FILE", help: "CA certificate that signed the coordinator's (PEM)."),
            .flag("insecure", help: "Allow plain TCP without TLS (loopback testing only)."),
            OptionSpec("test-drop-after", value: "STEP", help: "Testing only (needs --insecure): simulate a dropout: close the connection after sending this secure-aggregation step's message (keys, shares, masked-input, unmasking) in --test-drop-round, stay away 1 s, then reconnect."),
            OptionSpec("test-drop-round", value: "R", help: "Testing only (needs --insecure): the round of --test-drop-after (its first attempt).", default: "1"),
            OptionSpec("test-dump-secagg", value: "DIR", help: "Testing only (needs --insecure): write every secure-aggregation input vector (fixed point, before masking) to DIR."),
            OptionSpec("test-corrupt-unmasking", value: "R", help: "Testing only (needs --insecure): in the first attempt of round R, reveal corrupted self-mask shares at secure aggregation's last step (a faulty node)."),
            OptionSpec("secagg-signing-key", value: "FILE", help: "Secure aggregation's consistency round (plan secureAggregation.consistencyCheck): this node's Ed25519 signing key, 32 bytes in hex (e.g. `openssl rand -hex 32`); its public key is printed at start. Needs --secagg-peers."),
            OptionSpec("secagg-peers", value: "FILE", help: "JSON {\"name\": \"hex public signing key\", …} of every node, this one included, obtained outside the coordinator. Needs --secagg-signing-key."),
            OptionSpec("test-attack", value: "KIND", help: "Testing only (needs --insecure and a loopback --coordinator): act as a hostile site: \(ByzantineAttack.allCases.map(\.rawValue).joined(separator: ", ")) (see cohort simulate --byzantine)."),
            .flag("require-secure-aggregation", help: "Refuse any plan without secure aggregation (the node stops with an error naming this flag)."),
            .flag("require-dp", help: "Refuse any plan whose differential privacy is not applied at this node: distributed DP or record-level DP-SGD (central DP's noise is added by the coordinator)."),
            .flag("share-metrics", help: "Send this site's evaluation scores to the coordinator even where they are kept here (secure aggregation, record-level DP, --require-*); they are not covered by the privacy guarantee."),
        ] + LogFormatOption.options)

    static func run(_ command: ParsedCommand) throws {
        try TestingFlags.check(command, ["test-drop-after", "test-dump-secagg", "test-corrupt-unmasking", "test-attack"])
        _ = try testAttack(command)
        let label = try command.string("label")
        let dataPath = try command.string("data")
        let valFraction = try command.double("val-fraction", range: 0...0.9), seed = UInt64(try command.int("seed", range: 0...))
        let schemaFile = command.isSet("schema") ? try SchemaFile.load(path: try command.string("schema")) : nil
        if case .images(let imageSchema)? = schemaFile {
            return try serveImages(command, schema: imageSchema, dataPath: dataPath, valFraction: valFraction, seed: seed)
        }
        if case .table(let schema)? = schemaFile {
            return try serveTable(command, schema: schema, dataPath: dataPath, valFraction: valFraction, seed: seed)
        }
        let dataset = try SiteData.load(path: dataPath, label: label)
        let (trainPart, validationPart) = dataset.split(validationFraction: valFraction, seed: seed)
        let (train, validation) = (trainPart.labelled, validationPart.labelled)
        guard train.count > 0 || dataset.unlabelled.rows > 0 else {
            throw CommandError("\(dataPath): no labelled training rows left after the validation split and no unlabelled rows to adapt on (\(dataset.labelled.count) labelled)")
        }
        let test = try command.isSet("test")
            ? SiteData.load(path: try command.string("test"), label: label, classes: dataset.labelled.count > 0 ? dataset.classes : nil).labelled : nil
        try serve(command, train: train, validation: validation, unlabelled: trainPart.unlabelled, test: test)
    }

    /// An image site: an ImageFolder (decoded from disk batch by batch) or a MedMNIST-layout
    /// `.npz` (kept as uint8, prepared batch by batch). The training images are streamed, so
    /// memory grows with the batch, not the site; the validation and test parts are prepared
    /// into memory (each round scores them), and a bounded sample of the training images is
    /// kept for BatchNorm statistics.
    static func serveImages(_ command: ParsedCommand, schema: ImageSchema, dataPath: String, valFraction: Double, seed: UInt64) throws {
        let source: any BatchSource
        let validation: LabelledData
        var test: LabelledData?
        let how: String
        if dataPath.lowercased().hasSuffix(".npz") {
            // MedMNIST layout: train_/val_/test_ arrays; the archive's test part is scored
            // unless --test names another archive.
            let sources = try NpzImageSet.open(path: dataPath, schema: schema)
            let (train, val) = sources.trainAndValidation(validationFraction: valFraction, seed: seed)
            source = train
            how = "kept as uint8, prepared batch by batch"
            validation = try val.all()
            test = try command.isSet("test") ? NpzImageSet.open(path: try command.string("test"), schema: schema).test?.all() : sources.test?.all()
        } else {
            let site = try ImageSite.open(root: dataPath, schema: schema, validationFraction: valFraction, seed: seed)
            source = site.train
            how = "streamed from disk in batches"
            validation = try site.validation.all()
            test = try command.isSet("test") ? site.sibling(root: try command.string("test")).all() : nil
        }
        guard source.count > 0 else { throw CommandError("\(dataPath): no training images left after the validation split") }
        let sample = try source.batch(ArraySlice(ImageSite.calibrationPositions(count: source.count)))
        Terminal.progress("\(dataPath): \(source.count) training images (\(how)), \(validation.count) validation"
                          + (test.map { " and \($0.count) test" } ?? "") + " images in memory")
        try serve(command, train: sample, validation: validation, unlabelled: nil, test: test, trainSource: source)
    }

    /// A tabular site read with a dataset schema. The statistics come from this site's training
    /// rows, unless the plan fits them in a federated statistics round: the raw rows are kept for
    /// it. When this site alone cannot fit them (a column it has no value in), it waits for that round.
    static func serveTable(_ command: ParsedCommand, schema: DatasetSchema, dataPath: String, valFraction: Double, seed: UInt64) throws {
        var categories = CategoryDictionary(schema: schema)
        let raw = try SchemaPipeline.readSplit(paths: [dataPath], schema: schema, validationFraction: valFraction, seed: seed, categories: &categories)
        guard raw.train.labelled.count > 0 || raw.train.unlabelled.rows > 0 else {
            throw CommandError("\(dataPath): no labelled training rows left after the validation split and no unlabelled rows to adapt on")
        }
        let rawTest = command.isSet("test") ? try SchemaReader.read(path: try command.string("test"), schema: schema, categories: &categories) : nil
        var table = RawSiteTable(schema: schema, train: raw.train, validation: raw.validation, test: rawTest, categories: categories)
        let prepared: SchemaPipeline.Prepared
        do {
            // Learned categories must be the federation's: one site's own list would give its
            // model another input width.
            let learned = schema.learnedColumns
            guard learned.isEmpty else {
                throw DataError("\(dataPath): column\(learned.count == 1 ? "" : "s") \(learned.map { "'\($0)'" }.joined(separator: ", ")) learn\(learned.count == 1 ? "s its" : " their") categories in federation")
            }
            prepared = try SchemaPipeline.fitted(train: raw.train, validation: raw.validation, schema: schema, source: dataPath)
        } catch let error as DataError {
            // Nothing to encode with until the coordinator's fit arrives: the rows stay raw
            // (zero-width placeholders keep the counts the node announces).
            Terminal.error("warning: \(error.description); this site needs the federated statistics round (plan preprocessing.fit federated) to fit its preprocessing")
            table.localFitProblem = error.description
            func placeholder(_ d: LabelledData) -> LabelledData { LabelledData(inputs: Tensor(shape: [d.count, 0], data: []), labels: d.labels) }
            return try serve(command, train: placeholder(raw.train.labelled), validation: placeholder(raw.validation.labelled),
                             unlabelled: nil, test: nil, rawTable: table)
        }
        let test = try rawTest.map { try prepared.preprocessing.apply($0).labelled }
        try serve(command, train: prepared.train.labelled, validation: prepared.validation.labelled, unlabelled: prepared.train.unlabelled,
                  test: test, preprocessing: prepared.preprocessing, rawTable: table)
    }

    /// The `--test-attack` a hostile test node runs (nil when not given). A hostile node is for
    /// loopback tests only: the coordinator address must be a literal loopback one.
    static func testAttack(_ command: ParsedCommand) throws -> ByzantineAttack? {
        guard command.isSet("test-attack") else { return nil }
        let text = try command.string("test-attack")
        let attack: ByzantineAttack
        do { attack = try ByzantineAttack(parsing: text) } catch { throw UsageError(context: command.context, problem: "--test-attack: \(error)") }
        let (host, _) = try Endpoint.parse(try command.string("coordinator"), option: "coordinator", context: command.context)
        guard CoordinatorCommand.isLoopback(host), !command.isSet("tls-ca") else {
            throw UsageError(context: command.context, problem: "--test-attack needs a loopback --coordinator address (127.0.0.0/8 or ::1) and no TLS, got '\(host)'")
        }
        return attack
    }

    /// Connects to the coordinator and serves rounds with this site's data.
    static func serve(_ command: ParsedCommand, train: LabelledData, validation: LabelledData, unlabelled: Tensor?, test: LabelledData?,
                      preprocessing: FittedPreprocessing? = nil, rawTable: RawSiteTable? = nil, trainSource: (any BatchSource)? = nil) throws {
        let savePath = command.isSet("save-model") ? try command.string("save-model") : nil
        let (host, port) = try Endpoint.parse(try command.string("coordinator"), option: "coordinator", context: command.context)
        let secretPath = try command.string("secret-file")
        let secretText: String
        do { secretText = try LocalFile.text(secretPath, what: "secret file", secret: true) } catch { throw CommandError("\(error)") }
        let secret = try NodeSecrets.parseNodeSecret(secretText, path: secretPath)
        let tls: TLSContext?
        if command.isSet("tls-ca") {
            let ca = try command.string("tls-ca")
            do { try LocalFile.check(ca, what: "TLS CA certificate") } catch { throw CommandError("\(error)") }
            tls = try TLSContext.client(trustedCA: ca)
        } else {
            guard command.flag("insecure") else {
                throw UsageError(context: command.context, problem: "give --tls-ca (the CA that signed the coordinator's certificate), or --insecure for plain TCP")
            }
            Terminal.error("warning: plain TCP without TLS (--insecure)")
            tls = nil
        }
        var config = FederatedNode.Config(host: host, port: port, name: try command.string("name"), secret: secret, tls: tls,
                                          train: train, validation: validation)
        config.requireSecureAggregation = command.flag("require-secure-aggregation")
        config.requireDP = command.flag("require-dp")
        if command.isSet("secagg-signing-key") || command.isSet("secagg-peers") {
            guard command.isSet("secagg-signing-key"), command.isSet("secagg-peers") else {
                throw UsageError(context: command.context, problem: "--secagg-signing-key and --secagg-peers go together")
            }
            let identity = try SigningIdentityFiles.load(name: config.name, keyPath: try command.string("secagg-signing-key"), peersPath: try command.string("secagg-peers"))
            config.secureAggregationIdentity = identity
            Terminal.error("secure aggregation signing key: public key " + (identity.peers[config.name] ?? []).map { String(format: "%02x", $0) }.joined()
                           + "; consistency round with \(identity.peers.count) registered node(s)")
        }
        config.shareMetrics = command.flag("share-metrics")
        config.saveTrainedTo = command.isSet("save-trained") ? try command.string("save-trained") : nil
        if command.flag("global-in-memory") { config.spillGlobalAbove = nil }
        if command.isSet("spill-dir") { config.spillDirectory = try command.string("spill-dir") }
        let lossText = try command.string("loss")
        guard let loss = RegressionLoss(text: lossText) else {
            throw UsageError(context: command.context, problem: "option '--loss' expects mse, mae, huber or huber:DELTA (DELTA > 0), got '\(lossText)'")
        }
        config.regressionLoss = loss
        if command.isSet("test-corrupt-unmasking") { config.testCorruptUnmasking = try command.int("test-corrupt-unmasking", range: 1...1_000_000) }
        if command.isSet("test-drop-after") {
            let text = try command.string("test-drop-after")
            guard let step = SecureAggregationStep(rawValue: text) else {
                throw UsageError(context: command.context, problem: "--test-drop-after must be one of \(SecureAggregationStep.allCases.map(\.rawValue).joined(separator: ", ")), got '\(text)'")
            }
            config.testDropAfter = (step, try command.int("test-drop-round", range: 1...1_000_000))
        }
        if command.isSet("test-dump-secagg") { config.secureAggregationDump = try command.string("test-dump-secagg") }
        config.testAttack = try testAttack(command)
        config.unlabelled = unlabelled
        config.test = test
        config.rawTable = rawTable
        config.trainSource = trainSource
        if let savePath {
            let folder = (savePath as NSString).deletingLastPathComponent
            let leftovers = LeftoverTemporaryFiles.remove(in: folder.isEmpty ? "." : folder, target: (savePath as NSString).lastPathComponent)
            if !leftovers.isEmpty { Terminal.progress("\(config.name): removed \(leftovers.count) temporary file(s) a killed run left: \(leftovers.joined(separator: ", "))") }
        }
        let node = FederatedNode(config: config)
        try node.run { Terminal.progress($0) }
        guard let savePath else { return }
        guard let final = node.finalModel else {
            throw CommandError("--save-model: the coordinator sent no final model to save (it ran with --no-final-evaluation, or ended early); nothing written to \(savePath)")
        }
        let metadata = CheckpointMetadata(source: "federated node \(config.name): final model", preprocessing: node.preprocessing ?? preprocessing)
        try CheckpointFile.save(model: final, metadata: metadata, to: savePath)
        Terminal.progress("\(config.name): saved the final model to \(savePath)")
    }
}
