import CohortFederation
import Foundation

/// `cohort status --journal DIR`: a run's progress as its coordinator journaled it.
enum StatusCommand {
    static let spec = CommandSpec(
        ["status"], summary: "Print a run's progress from its coordinator journal (the --out folder).",
        discussion: """
        Reads DIR/rounds.jsonl, DIR/evaluation.json and DIR/global.ckpt (never the network), so it works while the \
        coordinator runs, after it stopped, and on a copy of the folder. Exit status 1 when DIR holds no journal.
        """,
        options: [
            OptionSpec("journal", value: "DIR", help: "The coordinator's --out folder."),
            OptionSpec("rounds", value: "N", help: "The run's planned rounds, to print progress as 'R of N'."),
            .flag("json", help: "Print as JSON."),
        ])

    /// The summary `status` prints.
    struct Status: Codable, Equatable {
        var journal: String
        var roundsCompleted: Int
        var roundsPlanned: Int?
        var lastRoundFinishedAt: Double?
        var lastRoundSeconds: Double?
        var lastRoundAccepted: [String]
        var lastRoundRejected: [String: String]
        var globalValidationAccuracy: Double?
        var updatesAccepted: Int
        var updatesRejected: Int
        var bytesUp: Int
        var bytesDown: Int
        var epsilon: Double?
        var delta: Double?
        var globalCheckpoint: Bool
        var finalEvaluation: [String: Double]?
    }

    static func collect(outDir: String, planned: Int?) throws -> Status {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: outDir, isDirectory: &isDir), isDir.boolValue else {
            throw CommandError("\(outDir): no such folder")
        }
        let records = try Coordinator.loadRoundRecords(outDir: outDir)
        let last = records.last
        let ckpt = (outDir as NSString).appendingPathComponent("global.ckpt")
        let evalPath = (outDir as NSString).appendingPathComponent("evaluation.json")
        var evaluation: [String: Double]?
        if let data = FileManager.default.contents(atPath: evalPath) {
            guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let nodes = json["nodes"] as? [String: [String: Any]] else {
                throw CommandError("\(evalPath): not an evaluation file (expected an object with 'nodes')")
            }
            evaluation = nodes.compactMapValues { $0["test_accuracy"] as? Double }
        }
        return Status(journal: outDir, roundsCompleted: records.count, roundsPlanned: planned,
                      lastRoundFinishedAt: last?.finishedAt, lastRoundSeconds: last?.seconds,
                      lastRoundAccepted: last?.accepted ?? [], lastRoundRejected: last?.rejected ?? [:],
                      globalValidationAccuracy: last?.globalValidationAccuracy,
                      updatesAccepted: records.reduce(0) { $0 + $1.accepted.count },
                      updatesRejected: records.reduce(0) { $0 + $1.rejected.count },
                      bytesUp: records.reduce(0) { $0 + $1.bytesUp }, bytesDown: records.reduce(0) { $0 + $1.bytesDown },
                      epsilon: last?.epsilon, delta: last?.delta,
                      globalCheckpoint: FileManager.default.fileExists(atPath: ckpt), finalEvaluation: evaluation)
    }

    static func text(_ s: Status, now: Double = Date().timeIntervalSince1970) -> String {
        var lines = ["journal: \(s.journal)"]
        guard s.roundsCompleted > 0 else {
            return (lines + ["rounds completed: 0" + (s.roundsPlanned.map { " of \($0)" } ?? "") + " (no round journaled yet)"]).joined(separator: "\n")
        }
        let progress = s.roundsPlanned.map { " of \($0) (\(Int((100 * Double(s.roundsCompleted) / Double(max($0, 1))).rounded()))%)" } ?? ""
        lines.append("rounds completed: \(s.roundsCompleted)\(progress)")
        if let t = s.lastRoundFinishedAt {
            let when = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: t))
            lines.append("last round: finished \(when) (\(Int(max(0, now - t))) s ago) in \(String(format: "%.2f", s.lastRoundSeconds ?? 0)) s, "
                         + "\(s.lastRoundAccepted.count) update(s) accepted, \(s.lastRoundRejected.count) rejected"
                         + (s.globalValidationAccuracy.map { String(format: ", global validation accuracy %.3f", $0) } ?? ""))
        }
        for (name, reason) in s.lastRoundRejected.sorted(by: { $0.key < $1.key }) { lines.append("  rejected \(name): \(reason)") }
        lines.append("all rounds: \(s.updatesAccepted) updates accepted, \(s.updatesRejected) rejected, \(s.bytesUp) bytes up, \(s.bytesDown) bytes down")
        if let e = s.epsilon { lines.append("privacy: ε = \(String(format: "%.4g", e)) spent" + (s.delta.map { " at δ = \($0)" } ?? "")) }
        lines.append("global model: " + (s.globalCheckpoint ? "global.ckpt present" : "no global.ckpt"))
        if let ev = s.finalEvaluation, !ev.isEmpty {
            let accs = ev.values
            lines.append("final evaluation: \(ev.count) site(s), test accuracy min \(String(format: "%.3f", accs.min()!)) "
                         + "mean \(String(format: "%.3f", accs.reduce(0, +) / Double(accs.count))) max \(String(format: "%.3f", accs.max()!))")
        } else {
            lines.append("final evaluation: not yet")
        }
        return lines.joined(separator: "\n")
    }

    static func run(_ command: ParsedCommand) throws {
        let planned = command.isSet("rounds") ? try command.int("rounds", range: 1...100_000) : nil
        let status = try collect(outDir: try command.string("journal"), planned: planned)
        print(command.flag("json") ? try Terminal.json(status) : text(status))
    }
}
