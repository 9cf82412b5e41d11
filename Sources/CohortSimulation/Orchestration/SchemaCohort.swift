import CohortData
import CohortTensor
import Foundation

/// A synthetic tabular cohort drawn from a dataset schema (`simulate --kind tabular --schema`):
/// the source domain and the hospitals as CSV files whose columns are the schema's features by
/// name (shuffled into a different order at every site), its ignored columns, and its label —
/// class names as text, or a continuous target for a regression schema. Numeric columns are in
/// raw units (each its own centre and scale, so standardising matters); categorical and
/// binary columns take the schema's categories; every column whose missing policy is not
/// `error` has about 6% of its cells written as the schema's first missing marker. Each hospital
/// shifts the numeric columns and, for classes, the label mix.
enum SchemaCohort {
    /// Rows per file: (source train, source validation, hospital train range, hospital test).
    static func sizes(quick: Bool) -> (sourceTrain: Int, sourceValidation: Int, siteTrain: ClosedRange<Int>, siteTest: Int) {
        quick ? (600, 200, 60...160, 150) : (2000, 500, 120...400, 300)
    }

    /// Fraction of cells written missing in a column that allows it.
    static let missingRate: Float = 0.06

    /// Checks that a cohort can be generated from `schema`: categorical columns list their
    /// categories (the generator must know them), a classification label names two or more classes.
    static func check(_ schema: DatasetSchema, source: String) throws {
        var problems: [String] = []
        for f in schema.features where f.type == .categorical && (f.categories ?? []).isEmpty {
            problems.append("categorical column '\(f.name)' lists no categories (the simulation draws from them)")
        }
        if !schema.label.isRegression && schema.label.classes.count < 2 {
            problems.append("the label '\(schema.label.column)' names \(schema.label.classes.count) class(es); a simulation needs 2 or more")
        }
        guard problems.isEmpty else { throw SimulationError("\(source): " + problems.joined(separator: "; ")) }
    }

    /// Writes the cohort under `directory` and describes it. Deterministic in `seed`.
    static func write(schema: DatasetSchema, sites: Int, seed: UInt64, quick: Bool, into directory: String) throws -> SimulationCohort {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let size = sizes(quick: quick)
        let classes = schema.label.isRegression ? 1 : schema.label.classes.count
        var rng = SeededRandom(seed: seed &* 0x9E37_79B9 &+ 11)
        // Per feature: raw-unit centre and scale, and the class (or target) signal it carries.
        let numeric = schema.features.indices.map { j -> (centre: Float, scale: Float) in (Float(10 * (j + 1)), Float(1 + j % 4) * 2.5) }
        let signal = schema.features.indices.map { j in (0..<max(classes, 1)).map { c in Float((c * 7 + j * 3) % 5 - 2) * 0.55 } }
        let weights = schema.features.indices.map { j in Float((j * 5) % 7 - 3) / 3 }
        func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        func file(_ name: String, rows: Int, shift: [Float], prevalence: [Double], order: [Int], rng: inout SeededRandom) throws -> String {
            let columns = order.map { schema.features[$0].name } + (schema.ignore ?? []) + [schema.label.column]
            var text = columns.map(csvCell).joined(separator: ",") + "\n"
            for row in 0..<rows {
                let c = schema.label.isRegression ? 0 : draw(prevalence, &rng)
                var target: Float = 0
                var cells = [String](repeating: "", count: schema.features.count)
                for (j, f) in schema.features.enumerated() {
                    let z = rng.normal() + shift[j] + (schema.label.isRegression ? 0 : signal[j][c])
                    var cell: String
                    switch f.type {
                    case .numeric:
                        target += weights[j] * (z - shift[j])
                        cell = String(format: "%.3f", numeric[j].centre + numeric[j].scale * z)
                    case .categorical, .binary:
                        let names = f.categories ?? ["0", "1"]
                        let k = min(names.count - 1, max(0, Int(((z + 2) / 4 * Float(names.count)).rounded(.down))))
                        target += weights[j] * (Float(k) / Float(max(names.count - 1, 1)) - 0.5)
                        cell = names[k]
                    }
                    if (f.missingPolicy ?? .error) != .error, rng.uniform() < missingRate { cell = schema.missingMarkers.first ?? "" }
                    cells[j] = cell
                }
                let label = schema.label.isRegression
                    ? String(format: "%.4f", 50 + 8 * (target + 0.3 * rng.normal()))
                    : schema.label.classes[c]
                text += (order.map { csvCell(cells[$0]) } + (schema.ignore ?? []).map { _ in "id\(row)" } + [csvCell(label)]).joined(separator: ",") + "\n"
            }
            let out = path(name)
            try text.write(toFile: out, atomically: true, encoding: .utf8)
            return out
        }
        let even = [Double](repeating: 1 / Double(max(classes, 1)), count: max(classes, 1))
        let natural = Array(schema.features.indices)
        let zero = [Float](repeating: 0, count: schema.features.count)
        let sourceTrain = try file("source-train.csv", rows: size.sourceTrain, shift: zero, prevalence: even, order: natural, rng: &rng)
        let sourceValidation = try file("source-val.csv", rows: size.sourceValidation, shift: zero, prevalence: even, order: natural, rng: &rng)
        var simulated: [SimulatedSite] = [], infos: [SiteInfo] = []
        for h in 0..<sites {
            let name = "hospital\(h + 1)"
            let shift = schema.features.indices.map { _ in 0.8 * rng.normal() }
            var prevalence = (0..<max(classes, 1)).map { _ in Double(0.3 + rng.uniform()) }
            let total = prevalence.reduce(0, +)
            prevalence = prevalence.map { $0 / total }
            var order = natural
            order.shuffle(using: &rng)
            let rows = size.siteTrain.lowerBound + rng.int(below: size.siteTrain.count)
            let train = try file("\(name)-train.csv", rows: rows, shift: shift, prevalence: prevalence, order: order, rng: &rng)
            let test = try file("\(name)-test.csv", rows: size.siteTest, shift: shift, prevalence: prevalence, order: order, rng: &rng)
            simulated.append(SimulatedSite(name: name, trainPath: train, testPath: test))
            var scanner: [String: Double] = [:]
            for (j, f) in schema.features.enumerated() where f.type == .numeric { scanner["shift:" + f.name] = Double(shift[j]) }
            infos.append(SiteInfo(name: name, trainLabelled: rows, trainUnlabelled: 0, test: size.siteTest,
                                  prevalence: schema.label.isRegression ? [] : prevalence, scanner: scanner))
        }
        return SimulationCohort(sourceTrain: sourceTrain, sourceValidation: sourceValidation, sites: simulated, siteInfos: infos,
                                classes: classes, modelInputShape: [schema.encodedWidth])
    }

    /// An index drawn with the given probabilities.
    static func draw(_ p: [Double], _ rng: inout SeededRandom) -> Int {
        var u = Double(rng.uniform())
        for (i, q) in p.enumerated() { u -= q; if u < 0 { return i } }
        return p.count - 1
    }

    /// A CSV cell, quoted when it holds a comma, quote or line break.
    static func csvCell(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
