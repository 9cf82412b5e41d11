import CohortFederation
import CohortSimulation
import CohortTensor
import CohortTransport
import Foundation

/// Federation round overhead, Cohort's side of `shared/bench/peers/flower_round_overhead.py`:
/// a `cohort coordinator` process and one `cohort node` process per client on loopback (plain
/// TCP, float32 updates), logistic regression 13 → 2, 50 random samples per client, one local
/// epoch of SGD (batch 10, learning rate 0.1), FedAvg; every node also scores the global model
/// it receives each round, and the final model at the end.
public enum RoundOverheadBenchmark {
    /// The measured figures.
    public struct Result: Codable, Sendable {
        public var clients: Int
        public var rounds: Int
        /// From launching the coordinator and node processes to the end of round 1.
        public var launchToRound1DoneSeconds: Double
        public var firstRoundSeconds: Double
        /// Rounds 2…N as the coordinator journaled them.
        public var steadyRoundMedianSeconds: Double
        public var steadyRoundMinSeconds: Double
        public var steadyRoundMaxSeconds: Double
        public var totalWallSeconds: Double
        public var bytesUpPerRound: Int
        public var bytesDownPerRound: Int
    }

    /// Runs the federation in `dir` (created; kept for its logs) with `executable` (`cohort`).
    public static func run(executable: String, clients: Int = 10, rounds: Int = 20, dir: String, timeout: Double = 300,
                           progress: (String) -> Void = { _ in }) throws -> Result {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        func p(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }
        var secrets = ""
        for c in 0..<clients {
            var rng = SeededRandom(seed: UInt64(1000 + c))
            var csv = (0..<13).map { "x\($0)" }.joined(separator: ",") + ",target\n"
            for _ in 0..<50 {
                csv += (0..<13).map { _ in String(format: "%.5f", rng.normal()) }.joined(separator: ",") + ",\(rng.int(below: 2))\n"
            }
            try csv.write(toFile: p("site\(c).csv"), atomically: true, encoding: .utf8)
            let key = String(format: "%032x", c + 1)
            secrets += "site\(c) \(key)\n"
            try (key + "\n").write(toFile: p("site\(c).key"), atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: p("site\(c).key"))   // secrets must be private
        }
        try secrets.write(toFile: p("secrets.txt"), atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: p("secrets.txt"))
        try #"{"inputShape":[13],"layers":[{"kind":"dense","name":"head","units":2}]}"#.write(toFile: p("arch.json"), atomically: true, encoding: .utf8)
        try #"{"batchSize":10,"learningRate":0.1,"momentum":0,"localEpochs":1}"#.write(toFile: p("plan.json"), atomically: true, encoding: .utf8)
        try ChildProcess.runToEnd(name: "model init", executable: executable, arguments: ["model", "init", "--arch", p("arch.json"), "--out", p("init.ckpt")],
                                  logPath: p("init.log"), timeout: 60)
        try? FileManager.default.removeItem(atPath: p("journal"))
        let port = try freePort()
        progress("round overhead: coordinator and \(clients) node processes, \(rounds) rounds, port \(port)")
        let start = Date()
        let coordinator = try ChildProcess(name: "coordinator", executable: executable, arguments: [
            "coordinator", "--model", p("init.ckpt"), "--plan", p("plan.json"), "--secrets", p("secrets.txt"), "--listen", "127.0.0.1:\(port)",
            "--rounds", "\(rounds)", "--min-nodes", "\(clients)", "--out", p("journal"), "--insecure"], logPath: p("coordinator.log"))
        var nodes: [ChildProcess] = []
        defer { coordinator.stop(); for n in nodes { n.stop() } }
        for c in 0..<clients {
            nodes.append(try ChildProcess(name: "node \(c)", executable: executable, arguments: [
                "node", "--coordinator", "127.0.0.1:\(port)", "--name", "site\(c)", "--secret-file", p("site\(c).key"), "--data", p("site\(c).csv"),
                "--val-fraction", "0.2", "--insecure"], logPath: p("node\(c).log")))
        }
        guard coordinator.wait(timeout: timeout), coordinator.exitStatus == 0 else {
            throw BenchError("the coordinator did not finish within \(Int(timeout)) s (log: \(p("coordinator.log")))\n\(coordinator.logTail())")
        }
        let wall = Date().timeIntervalSince(start)
        for n in nodes { n.wait(timeout: 10) }
        let records = try Coordinator.loadRoundRecords(outDir: p("journal"))
        guard records.count == rounds, rounds >= 2 else { throw BenchError("expected \(rounds) journaled rounds, found \(records.count)") }
        let steady = records.dropFirst().map(\.seconds)
        return Result(clients: clients, rounds: rounds, launchToRound1DoneSeconds: records[0].finishedAt - start.timeIntervalSince1970,
                      firstRoundSeconds: records[0].seconds, steadyRoundMedianSeconds: BenchTiming.median(Array(steady)),
                      steadyRoundMinSeconds: steady.min()!, steadyRoundMaxSeconds: steady.max()!, totalWallSeconds: wall,
                      bytesUpPerRound: records.last!.bytesUp, bytesDownPerRound: records.last!.bytesDown)
    }

    /// A loopback port that was free a moment ago.
    static func freePort() throws -> UInt16 {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        return listener.port
    }
}
