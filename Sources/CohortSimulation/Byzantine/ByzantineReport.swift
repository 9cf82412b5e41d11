import CohortCheckpoint
import Foundation

/// The Byzantine experiment's table and findings (printed, and written as `byzantine.txt`
/// beside `byzantine.json`).
public enum ByzantineReport {
    /// The floor of issue 16: an attacked run ends within this many points of the clean run.
    public static let floorPoints = 2.0

    /// One row per defence: the clean mean accuracy of the honest hospitals, then each attack's
    /// with its difference from clean in points; a failed run shows `failed`. With several
    /// seeds, a cell is the mean over seeds; the clean cell adds the per-seed min..max, an
    /// attack's the mean of the per-seed paired differences and their min..max.
    public static func table(_ results: ByzantineResults) -> String {
        let attacks = results.attacks
        let header = ["defence", "clean"] + attacks
        let pooled = results.seedCount > 1
        var rows: [[String]] = []
        for defence in results.defences {
            let cleanRun = defence.runs.first { $0.attack == ByzantineResults.clean }
            var cleanCell = defence.clean.map { ValueFormat.percent($0) } ?? "failed"
            if pooled, defence.clean != nil, let values = cleanRun?.seedRuns?.compactMap(\.meanAccuracy), let lo = values.min(), let hi = values.max() {
                cleanCell += String(format: " (%.1f..%.1f)", lo * 100, hi * 100)
            }
            var row = [defence.name, cleanCell]
            for attack in attacks {
                guard let run = defence.runs.first(where: { $0.attack == attack }), let acc = run.meanAccuracy else { row.append("failed"); continue }
                let diff: String
                if pooled {
                    if let mean = run.meanDifference, let lo = run.differenceMin, let hi = run.differenceMax {
                        diff = String(format: " (%+.1f, %+.1f..%+.1f)", mean * 100, lo * 100, hi * 100)
                    } else { diff = " (unpaired)" }
                } else {
                    diff = (run.meanDifference ?? defence.clean.map { acc - $0 }).map { String(format: " (%+.1f)", $0 * 100) } ?? ""
                }
                row.append(ValueFormat.percent(acc) + diff)
            }
            rows.append(row)
        }
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: max(0, widths[i] - cell.count))
                return i == 0 ? cell + pad : pad + cell
            }.joined(separator: "  ")
        }
        let lines = [line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")] + rows.map(line)
        return lines.joined(separator: "\n") + "\n"
    }

    /// The findings: per defence, whether every attack ends within `floorPoints` of clean, and
    /// the issue's floor (the default-bounded FedAvg and at least one robust strategy hold).
    public static func findings(_ results: ByzantineResults) -> [String] {
        var notes = ["Mean final test accuracy of the honest hospitals (\(results.honest.joined(separator: ", "))); "
                     + "hostile: \(results.hostile.joined(separator: ", ")); \(results.rounds) rounds, "
                     + (results.seedCount > 1
                        ? "seeds \((results.seeds ?? []).map(String.init).joined(separator: ", ")) (a cell is the mean over seeds; in brackets the mean of the "
                          + "per-seed differences attacked − clean, paired by seed, then their min..max; the clean cell's range is over seeds)."
                        : "seed \(results.seed).")]
        for defence in results.defences {
            let beyond = defence.attacksBeyond(points: floorPoints)
            notes.append("\(defence.name): " + (beyond.isEmpty ? "every attack within \(formatPoints(floorPoints)) points of clean"
                                                             : "more than \(formatPoints(floorPoints)) points below clean (or failed) under \(beyond.joined(separator: ", "))"))
        }
        let holds = Set(results.defences.filter { $0.attacksBeyond(points: floorPoints).isEmpty }.map(\.name))
        let robust = [ByzantineDefence.median, .trimmedMean, .krum, .multiKrum].map(\.rawValue).filter(holds.contains)
        if results.defences.contains(where: { $0.name == ByzantineDefence.fedavg.rawValue }) {
            let ok = holds.contains(ByzantineDefence.fedavg.rawValue) && !robust.isEmpty
            notes.append("Floor (default-bounded fedavg and at least one robust strategy within \(formatPoints(floorPoints)) points of clean under every attack"
                         + (results.seedCount > 1 ? ", judged on the mean paired difference over \(results.seedCount) seeds" : "") + "): "
                         + (ok ? "HOLDS" : "DOES NOT HOLD") + " — robust strategies that hold: " + (robust.isEmpty ? "none" : robust.joined(separator: ", ")) + ".")
        }
        return notes
    }

    private static func formatPoints(_ p: Double) -> String { String(format: "%g", p) }

    /// Writes `byzantine.json` and `byzantine.txt` (table and findings) into `directory`, atomically.
    public static func write(_ results: ByzantineResults, to directory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let files: [(String, [UInt8])] = [
            (ByzantineRunner.jsonFileName, Array(try encoder.encode(results))),
            (ByzantineRunner.tableFileName, Array((table(results) + "\n" + findings(results).map { "- " + $0 }.joined(separator: "\n") + "\n").utf8)),
        ]
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, bytes) in files {
            let path = (directory as NSString).appendingPathComponent(name)
            do { try DurableFile.write(bytes, to: path) } catch { throw ReportError.io(path: path, reason: "\(error)") }
        }
    }
}
