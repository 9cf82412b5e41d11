import CohortCheckpoint
import Foundation

/// Writes the outputs of `cohort simulate` into a run directory:
///
/// - `report.html`: a self-contained page with the summary table, charts and site details;
/// - `metrics.json`: the full `SimulationResults` (see `MetricsJSON` for the `null`-for-NaN rule);
/// - `rounds.csv`: per-round and final per-site accuracy (see `roundsCSV(_:)` for the `final` rows).
///
/// All three are rendered in memory first, then each is written atomically (temporary file,
/// fsync, rename), so a crash never leaves a half-written file.
public enum ReportWriter {
    /// File name of the HTML report.
    public static let reportFileName = "report.html"
    /// File name of the JSON results.
    public static let metricsFileName = "metrics.json"
    /// File name of the per-round CSV.
    public static let roundsFileName = "rounds.csv"

    /// Creates `directory` (and its parents) if needed and writes `report.html`, `metrics.json`
    /// and `rounds.csv` into it, replacing earlier versions.
    public static func write(_ results: SimulationResults, to directory: String) throws {
        let files: [(String, Data)] = [
            (metricsFileName, try MetricsJSON.encode(results)),
            (roundsFileName, Data(roundsCSV(results).utf8)),
            (reportFileName, Data(html(results).utf8)),
        ]
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ReportError.io(path: directory, reason: "cannot create directory: \(error.localizedDescription)")
        }
        for (name, data) in files {
            let path = (directory as NSString).appendingPathComponent(name)
            do { try DurableFile.write(Array(data), to: path) } catch {
                throw ReportError.io(path: path, reason: "\(error)")
            }
        }
    }

    /// The text of `report.html`: inline CSS and SVG, no scripts, no external URLs.
    public static func html(_ results: SimulationResults) -> String { HTMLReport.render(results) }

    /// The text of `rounds.csv`, header
    /// `arm,round,site,accuracy,bytes_up,bytes_down,seconds,participants`.
    ///
    /// One row per arm × round × site for arms with round records (federated arms), with that
    /// round's bytes, seconds and participants; then, for every arm, one row per scored site with
    /// `round` = `final`, the final accuracy, the arm's total bytes and wall seconds, and an empty
    /// `participants`. A NaN accuracy is written `NaN`; numbers parse back exactly.
    public static func roundsCSV(_ results: SimulationResults) -> String { RoundsCSV.render(results) }

    /// A plain-text table for the terminal: one row per arm with each site's accuracy, the mean,
    /// bytes per round and wall time; failed arms show their error instead.
    public static func terminalTable(_ results: SimulationResults) -> String { TerminalTable.render(results) }
}
