import Foundation

/// A `cohort` subcommand running as its own OS process, its output going to a log file.
public final class ChildProcess {
    public let name: String
    public let logPath: String
    private let process = Process()

    /// Starts `executable arguments`, with stdout and stderr appended to `logPath`.
    public init(name: String, executable: String, arguments: [String], logPath: String) throws {
        self.name = name
        self.logPath = logPath
        FileManager.default.createFile(atPath: logPath, contents: nil)
        guard let log = FileHandle(forWritingAtPath: logPath) else { throw SimulationError("cannot write log \(logPath)") }
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw SimulationError("cannot start \(name) (\(executable)): \(error.localizedDescription)")
        }
        try? log.close()
    }

    public var isRunning: Bool { process.isRunning }
    /// The process's id (for reading /proc/PID while it runs).
    public var processIdentifier: Int32 { process.processIdentifier }
    public var exitStatus: Int32 { process.terminationStatus }

    /// Waits up to `timeout` seconds; true if it exited.
    @discardableResult
    public func wait(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        return !process.isRunning
    }

    /// SIGTERM, then SIGKILL if it has not exited within a second.
    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        if !wait(timeout: 1) { kill(process.processIdentifier, SIGKILL); wait(timeout: 1) }
    }

    /// The last `lines` lines of the log (for error messages).
    public func logTail(_ lines: Int = 8) -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).map { "    " + $0 }.joined(separator: "\n")
    }

    /// Runs to completion within `timeout` seconds; throws with the log's tail on failure.
    public static func runToEnd(name: String, executable: String, arguments: [String], logPath: String, timeout: Double) throws {
        let child = try ChildProcess(name: name, executable: executable, arguments: arguments, logPath: logPath)
        guard child.wait(timeout: timeout) else {
            child.stop()
            throw SimulationError("\(name) did not finish within \(Int(timeout)) s (log: \(logPath))\n\(child.logTail())")
        }
        guard child.exitStatus == 0 else {
            throw SimulationError("\(name) failed with status \(child.exitStatus) (log: \(logPath))\n\(child.logTail())")
        }
    }
}

/// A simulation step that failed, with the reason.
public struct SimulationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
