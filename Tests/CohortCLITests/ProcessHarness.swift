import CohortTransport
import Foundation

/// Shared pieces of the tests that run `cohort` coordinators and nodes as real processes.
enum ProcessHarness {
    /// Starts `binary` (this package's `cohort` unless given) with `args`, stderr to `stderr`,
    /// stdout discarded; with `ulimit`, under that descriptor limit (through `/bin/sh`).
    static func launch(_ args: [String], stderr: URL, binary: URL = CohortBinary.url, ulimit: Int? = nil) throws -> Process {
        let p = Process()
        if let ulimit {
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", "ulimit -n \(ulimit) && exec \"$0\" \"$@\"", binary.path] + args
        } else {
            p.executableURL = binary
            p.arguments = args
        }
        _ = FileManager.default.createFile(atPath: stderr.path, contents: nil)
        p.standardError = try FileHandle(forWritingTo: stderr)
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        return p
    }

    /// Runs the `cohort` binary with `args` to the end and returns its status, stdout and stderr.
    static func capture(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = CohortBinary.url
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    /// Waits while `p` runs (at most `seconds`), polling its thread count every 50 ms; returns
    /// the most threads seen.
    static func peakThreads(of p: Process, seconds: Double) -> Int {
        var peak = 0
        let deadline = Date().addingTimeInterval(seconds)
        while p.isRunning && Date() < deadline {
            if let status = try? String(contentsOfFile: "/proc/\(p.processIdentifier)/status", encoding: .utf8),
               let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Threads:") }),
               let n = Int(line.split(separator: "\t").last?.trimmingCharacters(in: .whitespaces) ?? "") {
                peak = max(peak, n)
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return peak
    }

    /// Waits for a process with a deadline; terminates it and returns nil if it overruns.
    static func wait(_ p: Process, seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if p.isRunning { p.terminate(); return nil }
        return p.terminationStatus
    }

    /// Runs a coordinator in `dir` (its `init.ckpt`, `secrets.txt` and the given plan file) with
    /// `flags` that should be refused before it listens; returns its status and log.
    static func refusedCoordinator(in dir: URL, plan: String, flags: [String]) throws -> (status: Int32?, log: String) {
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let logURL = dir.appendingPathComponent("refused.log")
        let c = try launch(["coordinator", "--model", p("init.ckpt"), "--plan", p(plan), "--secrets", p("secrets.txt"),
                            "--listen", "127.0.0.1:0", "--out", p("never"), "--insecure"] + flags, stderr: logURL)
        let status = wait(c, seconds: 30)
        return (status, (try? String(contentsOf: logURL, encoding: .utf8)) ?? "")
    }

    /// A loopback port that was free a moment ago.
    static func freePort() throws -> UInt16 {
        let l = try TCPListener(host: "127.0.0.1", port: 0)
        defer { l.close() }
        return l.port
    }

    /// Three sites (`site0..2.csv`, 200/120/60 rows) with two Gaussian classes in 6 features,
    /// each shifted differently; their keys, `secrets.txt`, a small MLP `arch.json`, and
    /// `plan.json` holding `plan`.
    static func writeSites(in dir: URL, plan: String) throws {
        var state: UInt64 = 42
        func uniform() -> Double { state = state &* 6364136223846793005 &+ 1442695040888963407; return Double(state >> 11) / Double(1 << 53) }
        func gauss() -> Double { (-2 * log(max(uniform(), 1e-12))).squareRoot() * cos(2 * .pi * uniform()) }
        var secrets = ""
        for (s, (n, shift)) in [(200, 0.0), (120, 0.5), (60, -0.5)].enumerated() {
            var csv = (0..<6).map { "x\($0)" }.joined(separator: ",") + ",target\n"
            for i in 0..<n {
                let y = i % 2
                let xs = (0..<6).map { j in gauss() + (y == 1 ? 1.0 : -1.0) * (j < 3 ? 1 : 0.2) + shift }
                csv += xs.map { String(format: "%.4f", $0) }.joined(separator: ",") + ",\(y)\n"
            }
            try csv.write(to: dir.appendingPathComponent("site\(s).csv"), atomically: true, encoding: .utf8)
            let key = String(format: "%032llx", 0x1234_5678_9abc_def0 &+ UInt64(s))
            secrets += "site\(s) \(key)\n"
            try (key + "\n").write(to: dir.appendingPathComponent("site\(s).key"), atomically: true, encoding: .utf8)
        }
        try secrets.write(to: dir.appendingPathComponent("secrets.txt"), atomically: true, encoding: .utf8)
        try #"{"inputShape":[6],"layers":[{"kind":"dense","name":"features.0","units":16},{"kind":"relu","name":"features.1"},{"kind":"dense","name":"head","units":2}]}"#
            .write(to: dir.appendingPathComponent("arch.json"), atomically: true, encoding: .utf8)
        try plan.write(to: dir.appendingPathComponent("plan.json"), atomically: true, encoding: .utf8)
    }
}
