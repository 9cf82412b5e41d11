import Foundation

/// `rounds.csv`: one row per arm × round × site, then each arm's final scores.
///
/// Columns: `arm,round,site,accuracy,bytes_up,bytes_down,seconds,participants`.
///
/// - Round rows (arms with round records, i.e. federated arms): `round` is the round number,
///   `accuracy` that site's test accuracy at the end of the round, and `bytes_up`,
///   `bytes_down`, `seconds`, `participants` are the round's (repeated on each site's row).
///   Sites come in the report's order (`results.sites`, then any other site the round scored).
/// - Final rows, for every arm (federated or not) and every site it was scored on: `round` is
///   the literal `final`, `accuracy` the final model's accuracy, `bytes_up`/`bytes_down`/`seconds`
///   the arm's totals, and `participants` is empty (it has no meaning for the final model).
///
/// Numbers are written in Swift's shortest round-trip form, so parsing them gives back the
/// exact `Double`; a NaN accuracy is written `NaN`. Text fields are quoted per RFC 4180 when
/// they contain a comma, quote or line break.
enum RoundsCSV {
    static let header = "arm,round,site,accuracy,bytes_up,bytes_down,seconds,participants"

    static func render(_ results: SimulationResults) -> String {
        let sites = ReportSites.names(results)
        var lines = [header]
        for arm in results.arms {
            for record in arm.rounds {
                let extra = record.perSiteAccuracy.keys.filter { !sites.contains($0) }.sorted()
                for site in sites + extra {
                    lines.append(row([arm.name, String(record.round), site, number(record.perSiteAccuracy[site] ?? .nan),
                                      String(record.bytesUp), String(record.bytesDown), number(record.seconds),
                                      String(record.participants)]))
                }
            }
        }
        for arm in results.arms {
            for score in arm.perSite {
                lines.append(row([arm.name, "final", score.site, number(score.accuracy), String(arm.bytesUp),
                                  String(arm.bytesDown), number(arm.wallSeconds), ""]))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Swift's shortest round-trip text, with `NaN`, `inf` and `-inf` for non-finite values.
    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        return value.description
    }

    static func row(_ fields: [String]) -> String { fields.map(quote).joined(separator: ",") }

    static func quote(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
