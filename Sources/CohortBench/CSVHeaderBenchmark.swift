import CohortData
import Foundation

/// Times reading a very wide CSV file: a header of `columns` names and `rows` data rows,
/// through the plain reader (`CSVDataset`) and through a schema (`SchemaReader`, names matched
/// by a hash map). Both are one pass over the bytes, so the time grows linearly with the width.
public enum CSVHeaderBenchmark {
    /// Timings in seconds, summarised over the repeats.
    public struct Report: Codable, Sendable {
        public var bench = "csv_header"
        public var columns: Int
        public var rows: Int
        public var bytes: Int
        public var plainSeconds: BenchTiming.Summary
        public var schemaSeconds: BenchTiming.Summary
    }

    /// The CSV text: columns `c0…c{n-2}` and `target`, every cell `1` (label `0`).
    public static func file(columns: Int, rows: Int) -> [UInt8] {
        var text = (0..<(columns - 1)).map { "c\($0)" }.joined(separator: ",") + ",target\n"
        let row = String(repeating: "1,", count: columns - 1) + "0\n"
        for _ in 0..<rows { text += row }
        return Array(text.utf8)
    }

    /// Reads the file `repeats` times each way.
    public static func run(columns: Int, rows: Int, repeats: Int) throws -> Report {
        let bytes = file(columns: columns, rows: rows)
        let schema = DatasetSchema(label: .init(column: "target", classes: ["0", "1"]),
                                   features: (0..<(columns - 1)).map { FeatureColumn(name: "c\($0)", type: .numeric) })
        try schema.validate()
        var plain: [Double] = [], withSchema: [Double] = []
        for _ in 0..<repeats {
            var t = BenchTiming.now()
            let a = try CSVDataset(bytes: bytes, path: "wide.csv", label: "target")
            plain.append(BenchTiming.now() - t)
            t = BenchTiming.now()
            let b = try SchemaReader.read(bytes: bytes, path: "wide.csv", schema: schema)
            withSchema.append(BenchTiming.now() - t)
            guard a.featureNames.count == columns - 1, b.features == columns - 1 else { throw DataError("wide.csv: read back the wrong width") }
        }
        return Report(columns: columns, rows: rows, bytes: bytes.count, plainSeconds: .init(plain), schemaSeconds: .init(withSchema))
    }
}
