import Foundation

/// `metrics.json`: the whole `SimulationResults`, pretty-printed with sorted keys.
///
/// Convention: JSON has no NaN or infinity, so every non-finite number is written as `null`
/// and read back as NaN (an accuracy that could not be measured is NaN). A missing shift view
/// and a completed arm's `failed` are `null` too. Keys are the Swift property names.
public enum MetricsJSON {
    /// The JSON text of `results`.
    public static func encode(_ results: SimulationResults) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(results)
        data.append(0x0A)
        return data
    }

    /// Results read back from `metrics.json` text (`null` numbers become NaN).
    public static func decode(_ data: Data) throws -> SimulationResults {
        try JSONDecoder().decode(SimulationResults.self, from: data)
    }

    /// Results read from a `metrics.json` file.
    public static func read(path: String) throws -> SimulationResults {
        try decode(try Data(contentsOf: URL(fileURLWithPath: path)))
    }
}
