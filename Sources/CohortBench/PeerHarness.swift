import CohortFederation
import Foundation

/// Runs one of the peer harnesses (`shared/bench/peers/*.py`, PyTorch / numpy / Flower) in the
/// same sitting as Cohort's side, bounded in time, and reads the JSON line it prints.
public struct PeerHarness: Sendable {
    /// The peer virtualenv's Python.
    public var python: String
    /// The folder holding the harness scripts.
    public var directory: String

    public init(python: String, directory: String) {
        self.python = python
        self.directory = directory
    }

    /// Why the peers cannot run here, or nil when they can.
    public func unavailable() -> String? {
        guard FileManager.default.isExecutableFile(atPath: python) else { return "no peer Python at \(python) (run shared/bench/setup-peers.sh)" }
        guard FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent("_common.py")) else {
            return "no peer harness in \(directory)"
        }
        return nil
    }

    /// Runs `script args` with at most `timeout` seconds; waiting for a quiet machine is
    /// limited to `quietBudget` seconds in total (the harness's PEER_RETRY_BUDGET_S). Returns
    /// the last JSON object it printed; its stderr goes to `log`.
    public func run(_ script: String, _ args: [String], timeout: Double, quietBudget: Double = 60, log: String) throws -> [String: Any] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [(directory as NSString).appendingPathComponent(script)] + args
        var env = ProcessInfo.processInfo.environment
        env["PEER_RETRY_BUDGET_S"] = "\(Int(quietBudget))"
        process.environment = env
        let out = Pipe()
        process.standardOutput = out
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: log)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let collected = Locked(Data())
        let reader = Thread { collected.update { $0 = out.fileHandleForReading.readDataToEndOfFile() } }
        reader.start()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
        if process.isRunning {
            process.terminate()
            Thread.sleep(forTimeInterval: 2)
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            throw BenchError("\(script) did not finish within \(Int(timeout)) s (log: \(log))")
        }
        while reader.isExecuting || !reader.isFinished { Thread.sleep(forTimeInterval: 0.05) }
        let text = String(decoding: collected.value, as: UTF8.self)
        guard process.terminationStatus == 0,
              let line = text.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw BenchError("\(script) failed (status \(process.terminationStatus); log: \(log))")
        }
        return json
    }
}
