import CohortData
import Foundation

/// `cohort datagen`: write a synthetic multi-site cohort (source + hospitals) and its manifest.
enum DatagenCommand {
    static let spec = CommandSpec(
        ["datagen"], summary: "Write a synthetic multi-site cohort (a public source dataset and N hospitals) with its manifest.",
        discussion: """
        imaging: 1x32x32 scans, 3 classes (normal, benign, malignant), one scanner model per site, .ctf files. \
        tabular: 10 clinical features, binary outcome, per-site population and lab calibration, .csv files. \
        Hospitals are hospital-1 ... hospital-N by ascending training size; with 3 or more, the second largest \
        keeps labels for 5% of its training samples. OUT/cohort.json lists every file.
        """,
        options: [
            OptionSpec("out", value: "DIR", help: "Directory to write (must be absent or empty unless --force)."),
            OptionSpec("kind", value: "KIND", help: "imaging or tabular.", default: "imaging"),
            OptionSpec("sites", value: "N", help: "Number of hospitals (1-64).", default: "5"),
            OptionSpec("seed", value: "S", help: "Seed of every random choice.", default: "0"),
            .flag("quick", help: "Small cohort for CI (source 1500, hospitals 40-300, test 150)."),
            .flag("force", help: "Write into a non-empty directory, replacing files of the same names."),
            OptionSpec("schema", value: "FILE", help: "tabular: also write a dataset schema (protocols/dataset-schema.md) for the generated CSV files, drafted from the source file, with the task's classes."),
        ])

    static func run(_ command: ParsedCommand) throws {
        let out = try command.string("out")
        let kindText = try command.string("kind")
        guard let kind = CohortKind(rawValue: kindText) else {
            throw UsageError(context: command.context, problem: "option '--kind' expects imaging or tabular, got '\(kindText)'")
        }
        let seedText = try command.string("seed")
        guard let seed = UInt64(seedText) else {
            throw UsageError(context: command.context, problem: "option '--seed' expects a non-negative integer, got '\(seedText)'")
        }
        let schemaPath = command.isSet("schema") ? try command.string("schema") : nil
        if schemaPath != nil && kind != .tabular {
            throw UsageError(context: command.context, problem: "--schema describes CSV tables; it needs --kind tabular")
        }
        let config = SyntheticCohortConfig(kind: kind, hospitals: try command.int("sites", range: 1...64), seed: seed,
                                           preset: command.flag("quick") ? .quick : .standard)
        let start = ContinuousClock.now
        let manifest: CohortManifest
        do { manifest = try SyntheticCohort.write(config, to: out, force: command.flag("force")) } catch is OutputNotEmpty {
            throw CommandError("\(out): exists and is not empty; choose another --out or pass --force")
        } catch let error as DataError {
            throw CommandError("\(error)")
        }
        let elapsed = ContinuousClock.now - start
        print(table(manifest))
        if let schemaPath { try writeSchema(manifest, to: schemaPath) }
        print("wrote \(manifest.path(of: CohortManifest.fileName)) in \(String(format: "%.2f", Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)) s")
    }

    /// Drafts the schema from the source site's training CSV (`SchemaInference`), with every
    /// class of the task listed (a site may lack one) and written to `path`.
    static func writeSchema(_ manifest: CohortManifest, to path: String) throws {
        guard let site = manifest.source ?? manifest.sites.first else { throw CommandError("the cohort has no site to draft a schema from") }
        let label = manifest.labelColumn ?? "target"
        var schema = try SchemaInference.infer(path: manifest.path(of: site.files.train), label: label, task: .classification).schema
        schema.label = DatasetSchema.LabelColumn(column: label, classes: (0..<manifest.classes).map(String.init))
        try schema.validate(source: path)
        do { try (String(decoding: try schema.json(), as: UTF8.self) + "\n").write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw CommandError("cannot write '\(path)': \(error.localizedDescription)")
        }
        print("wrote \(path): schema of \(schema.features.count) features, label '\(label)' with classes \(schema.label.classes.joined(separator: ", ")) (\(manifest.classNames.joined(separator: ", ")))")
    }

    /// One line per site: counts, prevalence and the key shift parameters.
    static func table(_ m: CohortManifest) -> String {
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
        func num(_ v: Double?) -> String { v.map { String(format: "%.3g", $0) } ?? "-" }
        let keys = m.kind == .imaging ? ["gain", "bias", "gamma", "noise", "blur", "resolution"]
                                      : ["age.mean", "male.fraction", "glucose.gain", "creatinine.gain", "intercept"]
        var lines = [pad("site", 12) + pad("labelled", 9) + pad("unlabelled", 11) + pad("val", 6) + pad("test", 6)
                     + pad("prevalence", 20) + keys.map { pad($0, max(7, $0.count + 1)) }.joined()]
        for s in m.sites {
            let prevalence = s.prevalence.map { String(format: "%.2f", $0) }.joined(separator: "/")
            lines.append(pad(s.name, 12) + pad(String(s.counts.labelled), 9) + pad(String(s.counts.unlabelled), 11)
                         + pad(String(s.counts.validation), 6) + pad(String(s.counts.test), 6) + pad(prevalence, 20)
                         + keys.map { pad(num(s.parameters[$0]), max(7, $0.count + 1)) }.joined())
        }
        return "\(m.kind.rawValue) cohort, seed \(m.seed), preset \(m.preset.rawValue), classes \(m.classNames.joined(separator: ", "))\n"
            + lines.joined(separator: "\n")
    }
}
