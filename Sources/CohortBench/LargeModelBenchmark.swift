import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortSimulation
import CohortTensor
import Foundation

/// `cohort bench large-model --params N`: where the time of a large model's round goes
/// (issue 19). A model of one dense layer 1000 → U and a 10-class head (about N parameters),
/// two nodes, one FedAvg round on loopback (plain TCP, or TLS 1.3), one local epoch of three batches of 32
/// with SGD + momentum.
///
/// Two parts. Stages, timed in this process with the calls each role makes (one at a time,
/// each allocation released before the next): architecture build (`model init`), checkpoint
/// write (also with writeback left to the fsync, to split page cache from disk, and past the page
/// cache with `O_DIRECT`, read back from the disk), checkpoint read with its checksum, the whole-model digest (`ModelDigest`, what a
/// node checks), the weights encoded as a dense float32 delta message (the MODEL body) and
/// decoded, a delta encoded (the UPDATE body), decoded, checked and folded
/// (`CheckedUpdateFold`), and a checkpoint write past the page cache again (the journal's global
/// model). Then the
/// real run: `cohort model init`, a `cohort coordinator` process and two `cohort node`
/// processes, the round's seconds from the journal, and each process's peak resident memory
/// (`VmHWM`, polled every 20 ms while it runs).
public enum LargeModelBenchmark {
    /// One stage's time.
    public struct Stage: Codable, Sendable {
        public var name: String
        public var seconds: Double
        /// Bytes the stage moves (the model's float32 bytes, or the message or file size).
        public var bytes: Int
        public var gigabytesPerSecond: Double
        /// For file writes: seconds of the final fsync (the disk), and the rate of the writing
        /// alone (bytes / seconds before that fsync).
        public var fsyncSeconds: Double? = nil
        public var gigabytesPerSecondExcludingFsync: Double? = nil
    }

    /// One process's peak memory.
    public struct ProcessPeak: Codable, Sendable {
        public var name: String
        public var peakResidentBytes: Int
        public var peakModels: Double
        public var wallSeconds: Double
        public var exitStatus: Int32?
    }

    /// The whole report.
    public struct Report: Codable, Sendable {
        public var bench = "large-model"
        public var date: String
        public var parameters: Int
        public var modelBytes: Int
        public var hiddenUnits: Int
        public var stages: [Stage]
        public var roundSeconds: Double?
        /// Every round's seconds, from the journal (`--rounds`).
        public var roundSecondsEach: [Double]? = nil
        public var launchToRoundDoneSeconds: Double?
        /// From the coordinator's launch until it listens (the nodes are started then).
        public var coordinatorStartupSeconds: Double?
        public var processes: [ProcessPeak]
        /// The coordinator's own stages in the real round, from its log (MODEL sent and UPDATE
        /// received per node, the strategy's finish, the journal write).
        public var coordinatorStages: [Stage]?
        public var realRunError: String?
        public var benchProcessPeakResidentBytes: Int
        /// The real run's transport: "plain TCP" or "TLS 1.3".
        public var transport: String
        public var method: String
        /// Each node's stages of the real run's round (seconds, resident memory), from its log.
        public var nodeStages: [NodeStages]? = nil
        /// The plan's trainablePrefixes in the real run (nil: the whole model trained).
        public var trainablePrefixes: [String]? = nil
        /// The final global model against a reference computed another way (with `reference`).
        public var referenceCheck: ReferenceCheck? = nil
    }

    /// Hidden units U so that 1000·U + U + 10·U + 10 is about `params`.
    public static func hiddenUnits(params: Int) -> Int { max(1, (params - 10) / 1011) }

    static func spec(units: Int) -> ModelSpec {
        ModelSpec(inputShape: [1000], layers: [
            LayerSpec(.dense, name: "wide", units: units), LayerSpec(.relu, name: "relu"),
            LayerSpec(.dense, name: "head", units: 10),
        ])
    }

    /// Runs both parts in `dir` (kept for its logs and files); `realRun` false skips the processes.
    /// With `tls`, the real run uses TLS 1.3 with a private CA and certificate made for it by
    /// `openssl` in `dir/certs` (as scripts/make-certs.sh does).
    public static func run(params: Int, executable: String, dir: String, realRun: Bool = true, tls: Bool = false, timeout: Double = 900,
                           node: NodeSideOptions = .init(), progress: (String) -> Void = { _ in }) throws -> Report {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        func p(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }
        let units = hiddenUnits(params: params)
        let spec = spec(units: units)
        var stages: [Stage] = []
        func timed<R>(_ name: String, bytes: Int, _ body: () throws -> R) rethrows -> R {
            let start = BenchTiming.now()
            let result = try body()
            let s = BenchTiming.now() - start
            stages.append(Stage(name: name, seconds: s, bytes: bytes, gigabytesPerSecond: Double(bytes) / s / 1e9))
            progress(String(format: "large-model: %@ %.3f s (%.2f GB/s)", name, s, Double(bytes) / s / 1e9))
            return result
        }

        /// Adds a save's fsync share to the stage just timed.
        func noteSync(_ saved: CheckpointFile.SaveStatistics) {
            stages[stages.count - 1].fsyncSeconds = saved.syncSeconds
            stages[stages.count - 1].gigabytesPerSecondExcludingFsync = Double(saved.bytes) / saved.writeSeconds / 1e9
            progress(String(format: "large-model:   of which fsync %.3f s; writing alone %.2f GB/s", saved.syncSeconds,
                            Double(saved.bytes) / saved.writeSeconds / 1e9))
        }

        var parameterCount = 1011 * units + 10   // the spec's: 1000·U + U + 10·U + 10
        if !node.skipStages {
            progress("large-model: stages in this process, \(units) hidden units")
            let model = try timed("architecture build (model init)", bytes: 0) { try Sequential(spec: spec, seed: 1) }
            parameterCount = model.parameterCount
            let modelBytes = 4 * parameterCount
            stages[stages.count - 1].bytes = modelBytes
            stages[stages.count - 1].gigabytesPerSecond = Double(modelBytes) / stages[stages.count - 1].seconds / 1e9
            let path = p("stage.ckpt")
            let written = try timed("checkpoint write", bytes: modelBytes) {
                try CheckpointFile.save(model: model, metadata: CheckpointMetadata(source: "bench large-model"), to: path)
            }
            noteSync(written)
            // The same save with all writeback left to the final fsync: splits the page cache's
            // share (writing alone) from the disk's (the fsync).
            let split = try timed("checkpoint write, writeback left to the fsync", bytes: modelBytes) {
                try CheckpointFile.save(model: model, metadata: CheckpointMetadata(source: "bench large-model"), to: path,
                                        options: .init(earlyWriteback: false))
            }
            noteSync(split)
            // Past the page cache (O_DIRECT), as the coordinator writes its journal: the disk's
            // rate without the page cache's new pages; then read back from the disk (cold).
            let directPath = p("stage-direct.ckpt")
            let direct = try timed("checkpoint write, page cache bypassed (O_DIRECT, as the journal is written)", bytes: modelBytes) {
                try CheckpointFile.save(model: model, metadata: CheckpointMetadata(source: "bench large-model"), to: directPath,
                                        options: .init(bypassPageCache: true))
            }
            noteSync(direct)
            if !direct.bypassedPageCache { progress("large-model:   (the file system refused O_DIRECT: written through the page cache)") }
            _ = try timed("checkpoint read and checksum from the disk (the file written past the page cache)", bytes: modelBytes) {
                try CheckpointFile.load(directPath).tensors.count
            }
            try? FileManager.default.removeItem(atPath: directPath)
            let weights = try timed("checkpoint read and checksum (format 2: CRC-32C; 1: SHA-256)", bytes: modelBytes) { try CheckpointFile.load(path).tensors }
            _ = timed("model digest, protocol 3 (SHA-256 of the weights; no longer used)", bytes: modelBytes) { ModelDigest.sha256Hex(weights) }
            let digest = timed("model digest (protocol 4: block CRC-32C, hashed)", bytes: modelBytes) { ModelDigest.hex(weights) }
            let shapes = Dictionary(uniqueKeysWithValues: weights.map { ($0.name, $0.value.shape) })
            var header = RoundMessages.ModelHeader(round: 1, modelVersion: 0, plan: TrainingPlan(), architecture: spec)
            header.modelDigest = digest
            let modelMessage = try timed("MODEL message made for every node (streamed from the tensors: chunk CRCs)", bytes: modelBytes) {
                try RoundMessages.modelMessage(.model, header: header, weights: weights)
            }
            try wireSendStages(modelMessage, tls: tls, certs: p("certs"), stages: &stages, progress: progress)
            var message = try timed("MODEL body encoded into one buffer (old path, not used)", bytes: modelBytes) {
                try DeltaEncoder(config: DeltaCodecConfig()).encode(try ModelDelta(weights))
            }
            _ = try timed("MODEL decode into the tensors as a node does (1 MiB feeds, pieces, digest check)", bytes: modelBytes) {
                try message.withUnsafeBytes { try RoundMessages.decodeModelBodyAsANodeDoes($0, header: header, shapes: shapes).count }
            }
            message = []
            let local = model.stateDict().map { (name: $0.name, value: Tensor(shape: $0.value.shape, data: $0.value.data.map { $0 + 1e-3 })) }
            let updateMessage = try RoundMessages.updateMessage(RoundMessages.UpdateHeader(round: 1, modelVersion: 0, samples: 96, metrics: [:]),
                                                                local: Dictionary(uniqueKeysWithValues: local.map { ($0.name, $0.value) }),
                                                                global: Dictionary(uniqueKeysWithValues: weights.map { ($0.name, $0.value) }),
                                                                names: local.map(\.name))
            _ = try timed("UPDATE made and sent over loopback as a node does (each chunk's delta made, checksummed, written)", bytes: modelBytes) {
                try loopbackSend(updateMessage, tls: false, certs: p("certs"))
            }
            let update = try timed("delta encode into one buffer (old path, kept for the fold stage)", bytes: modelBytes) {
                try DeltaEncoder(config: DeltaCodecConfig()).encode(
                    try ModelDelta(local: local, global: weights, trainable: Set(weights.map(\.name))))
            }
            let sums = weights.map { (name: $0.name, buffer: UnsafeMutableBufferPointer<Float>.allocate(capacity: $0.value.count)) }
            for s in sums { s.buffer.initialize(repeating: 0) }
            let folded = Result {
                try timed("UPDATE decode, check and fold (CheckedUpdateFold)", bytes: modelBytes) {
                    try update.withUnsafeBytes { message in
                        try CheckedUpdateFold.fold(message, shapes: shapes, weight: 1, maxNorm: nil) { name in sums.first { $0.name == name }?.buffer }
                    }
                }
            }
            for s in sums { s.buffer.deallocate() }
            _ = try folded.get()
            try timed("UPDATE fold as the coordinator receives it (1 MiB chunks, OrderedFold, FedAvg finish)", bytes: modelBytes) {
                try coordinatorFold(update, global: weights, shapes: shapes)
            }
            let journal = try timed("journal write (global checkpoint, page cache bypassed)", bytes: modelBytes) {
                try CheckpointFile.save(Checkpoint(architecture: spec, metadata: CheckpointMetadata(source: "bench large-model"), tensors: weights),
                                        to: p("stage-journal.ckpt"), options: .init(bypassPageCache: true))
            }
            noteSync(journal)
            try timed("export (checkpoint read + safetensors write, what `cohort export` does)", bytes: modelBytes) {
                let checkpoint = try CheckpointFile.load(p("stage-journal.ckpt"))
                try Safetensors.save(checkpoint.tensors, metadata: ["source": checkpoint.metadata.source], to: p("stage.safetensors"))
            }
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: p("stage-journal.ckpt"))
            try? FileManager.default.removeItem(atPath: p("stage.safetensors"))
        }
        let modelBytes = 4 * parameterCount
        var report = Report(date: ISO8601DateFormatter().string(from: Date()), parameters: parameterCount, modelBytes: modelBytes,
                            hiddenUnits: units, stages: stages, processes: [], benchProcessPeakResidentBytes: ProcessMemory.peakResidentBytes(),
                            transport: tls ? "TLS 1.3" : "plain TCP",
                            method: "stages: one run each in this process (wall seconds; GB/s = the model's float32 bytes / seconds). "
                                + "Real run: cohort model init, then a coordinator and 2 node processes on 127.0.0.1, \(tls ? "TLS 1.3" : "plain TCP"), FedAvg, "
                                + "\(node.rounds) round(s), 96 rows per node (3 batches of 32, SGD momentum 0.9, no validation split); round seconds "
                                + "from the journal; peak RSS = VmHWM polled every 20 ms.")
        report.trainablePrefixes = node.trainablePrefixes
        guard realRun else { return report }
        do {
            try realRound(units: units, modelBytes: modelBytes, executable: executable, dir: dir, tls: tls, timeout: timeout, node: node,
                          report: &report, progress: progress)
        } catch { report.realRunError = "\(error)" }
        return report
    }

    /// The coordinator's uplink path for one UPDATE body (`Coordinator.receiveUpdate`): fed in
    /// 1 MiB chunks to the stream decoder, each chunk's room asked of an `OrderedFold` with the
    /// default buffer budget (the node in turn commits and its dense records are checked and
    /// folded piece by piece), then FedAvg's `finish` (global + mean).
    static func coordinatorFold(_ update: [UInt8], global: [(name: String, value: Tensor)], shapes: [String: [Int]]) throws {
        let strategy = FedAvg()
        strategy.begin(round: 1, global: Dictionary(uniqueKeysWithValues: global.map { ($0.name, $0.value) }))
        let fold = OrderedFold(participants: ["node"], samples: ["node": 96], strategy: strategy, bufferBudget: Coordinator.defaultUpdateBufferBytes)
        let decoder = DeltaStreamDecoder(expectedShapes: shapes, maxBytes: update.count, requireAllTensors: false, messageLength: update.count)
        try update.withUnsafeBytes { all in
            var at = 0
            while at < all.count {
                let n = min(1 << 20, all.count - at)
                let wasPiecewise = fold.foldsPieces("node")
                guard let reserved = fold.reserve("node", bytes: n) else { throw BenchError("the node in turn was made to wait") }
                if !wasPiecewise && fold.foldsPieces("node") {
                    try decoder.feed(UnsafeRawBufferPointer(start: nil, count: 0), piecewise: true, pieces: { try fold.offer("node", piece: $0) }) {
                        try fold.offer("node", record: $0)
                    }
                }
                try decoder.feed(UnsafeRawBufferPointer(rebasing: all[at..<(at + n)]), piecewise: fold.foldsPieces("node"),
                                 pieces: { try fold.offer("node", piece: $0) }) { try fold.offer("node", record: $0) }
                fold.read("node", reserved: reserved, received: n)
                at += n
            }
        }
        try decoder.finish()
        try fold.complete("node")
        fold.close()
        guard fold.folded == ["node"] else { throw BenchError("the update was not folded: \(fold.rejected)") }
        _ = try strategy.finish()
    }

    /// The processes' part.
    private static func realRound(units: Int, modelBytes: Int, executable: String, dir: String, tls: Bool, timeout: Double,
                                  node nodeSide: NodeSideOptions, report: inout Report, progress: (String) -> Void) throws {
        func p(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }
        let certs = p("certs")
        if tls { try BenchCertificates.make(in: certs) }
        let coordinatorSecurity = tls ? ["--tls-cert", certs + "/coordinator.pem", "--tls-key", certs + "/coordinator.key"] : ["--insecure"]
        let nodeSecurity = tls ? ["--tls-ca", certs + "/ca.pem"] : ["--insecure"]
        let archJSON = try JSONEncoder().encode(spec(units: units))
        try archJSON.write(to: URL(fileURLWithPath: p("arch.json")))
        let trainable = try nodeSide.trainablePrefixes.map { #","trainablePrefixes":"# + String(decoding: try JSONEncoder().encode($0), as: UTF8.self) } ?? ""
        try (#"{"batchSize":32,"learningRate":0.01,"momentum":0.9,"localEpochs":1"# + trainable + "}").write(toFile: p("plan.json"), atomically: true, encoding: .utf8)
        var secrets = ""
        for c in 0..<2 {
            var rng = SeededRandom(seed: UInt64(500 + c))
            var csv = (0..<1000).map { "x\($0)" }.joined(separator: ",") + ",target\n"
            for _ in 0..<96 {
                csv += (0..<1000).map { _ in String(format: "%.3f", rng.normal()) }.joined(separator: ",") + ",\(rng.int(below: 10))\n"
            }
            try csv.write(toFile: p("site\(c).csv"), atomically: true, encoding: .utf8)
            let key = String(format: "%032x", c + 7)
            secrets += "site\(c) \(key)\n"
            try (key + "\n").write(toFile: p("site\(c).key"), atomically: true, encoding: .utf8)
            chmod(p("site\(c).key"), 0o600)
        }
        try secrets.write(toFile: p("secrets.txt"), atomically: true, encoding: .utf8)
        chmod(p("secrets.txt"), 0o600)
        try? FileManager.default.removeItem(atPath: p("journal"))
        try? FileManager.default.removeItem(atPath: p("init.ckpt"))

        progress("large-model: cohort model init")
        let initWatch = PeakWatch()
        let initStart = Date()
        let initProcess = try ChildProcess(name: "model init", executable: executable,
                                           arguments: ["model", "init", "--arch", p("arch.json"), "--out", p("init.ckpt")], logPath: p("init.log"))
        initWatch.watch(initProcess)
        let initDone = initProcess.wait(timeout: timeout)
        initWatch.stop()
        report.processes.append(ProcessPeak(name: "model init", peakResidentBytes: initWatch.peak(initProcess.processIdentifier),
                                            peakModels: Double(initWatch.peak(initProcess.processIdentifier)) / Double(modelBytes),
                                            wallSeconds: Date().timeIntervalSince(initStart), exitStatus: initDone ? initProcess.exitStatus : nil))
        guard initDone, initProcess.exitStatus == 0 else { throw BenchError("model init failed\n\(initProcess.logTail())") }

        let port = try RoundOverheadBenchmark.freePort()
        progress("large-model: coordinator and 2 nodes on 127.0.0.1:\(port), \(nodeSide.rounds) round(s)")
        let watch = PeakWatch()
        let start = Date()
        let coordinator = try ChildProcess(name: "coordinator", executable: executable, arguments: [
            "coordinator", "--model", p("init.ckpt"), "--plan", p("plan.json"), "--secrets", p("secrets.txt"), "--listen", "127.0.0.1:\(port)",
            "--rounds", "\(nodeSide.rounds)", "--min-nodes", "2", "--out", p("journal")] + coordinatorSecurity, logPath: p("coordinator.log"))
        var nodes: [ChildProcess] = []
        defer { coordinator.stop(); for n in nodes { n.stop() }; watch.stop() }
        watch.watch(coordinator)
        // Start-up: from launch until the coordinator says it listens (checkpoint read, model
        // description, strategy); the nodes start after that.
        while coordinator.isRunning, !((try? String(contentsOfFile: p("coordinator.log"), encoding: .utf8)) ?? "").contains("listening on"),
              Date().timeIntervalSince(start) < timeout {
            usleep(10_000)
        }
        report.coordinatorStartupSeconds = Date().timeIntervalSince(start)
        progress(String(format: "large-model: coordinator listening after %.2f s", report.coordinatorStartupSeconds ?? 0))
        for c in 0..<2 {
            let node = try ChildProcess(name: "node \(c)", executable: executable, arguments: [
                "node", "--coordinator", "127.0.0.1:\(port)", "--name", "site\(c)", "--secret-file", p("site\(c).key"), "--data", p("site\(c).csv"),
                "--val-fraction", "0"] + nodeSecurity + (nodeSide.reference ? ["--save-trained", p("trained\(c).safetensors")] : [])
                + (nodeSide.globalInMemory ? ["--global-in-memory"] : ["--spill-dir", dir]),
                logPath: p("node\(c).log"))
            nodes.append(node)
            watch.watch(node)
        }
        let done = coordinator.wait(timeout: timeout * Double(nodeSide.rounds))   // the timeout is per round
        let wall = Date().timeIntervalSince(start)
        for n in nodes { n.wait(timeout: 60) }
        watch.stop()
        for process in [coordinator] + nodes {
            let peak = watch.peak(process.processIdentifier)
            report.processes.append(ProcessPeak(name: process.name, peakResidentBytes: peak, peakModels: Double(peak) / Double(modelBytes),
                                                wallSeconds: wall, exitStatus: process.isRunning ? nil : process.exitStatus))
        }
        guard done, coordinator.exitStatus == 0 else {
            throw BenchError("the coordinator did not finish well within \(Int(timeout)) s (log: \(p("coordinator.log")))\n\(coordinator.logTail())")
        }
        report.coordinatorStages = coordinatorStages(log: (try? String(contentsOfFile: p("coordinator.log"), encoding: .utf8)) ?? "")
        let records = try Coordinator.loadRoundRecords(outDir: p("journal"))
        guard let first = records.first else { throw BenchError("no round was journaled") }
        report.nodeStages = nodeStages(dir: dir, nodes: nodes.count, modelBytes: modelBytes, progress: progress)
        if nodeSide.reference { report.referenceCheck = try referenceCheck(dir: dir, nodes: nodes.count, rows: 96, progress: progress) }
        report.roundSeconds = first.seconds
        report.roundSecondsEach = records.map(\.seconds)
        report.launchToRoundDoneSeconds = first.finishedAt - start.timeIntervalSince1970
    }
}

/// Polls `VmHWM` of watched processes every 20 ms on its own thread, keeping the last value
/// seen for each (the kernel's high-water mark, so the last reading before exit is the peak).
final class PeakWatch: @unchecked Sendable {
    private let lock = NSLock()
    private var pids: [Int32] = []
    private var peaks: [Int32: Int] = [:]
    private var running = true
    private var thread: Thread?

    init() {
        let t = Thread { [weak self] in
            while let self, self.poll() { usleep(20_000) }
        }
        thread = t
        t.start()
    }

    func watch(_ process: ChildProcess) {
        lock.lock(); pids.append(process.processIdentifier); lock.unlock()
    }

    func stop() { lock.lock(); running = false; lock.unlock() }

    func peak(_ pid: Int32) -> Int { lock.lock(); defer { lock.unlock() }; return peaks[pid] ?? 0 }

    /// One reading of every process; false once stopped.
    private func poll() -> Bool {
        lock.lock()
        let list = pids, go = running
        lock.unlock()
        for pid in list {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                  let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
                  let kb = line.split(separator: " ").compactMap({ Int($0) }).first else { continue }
            lock.lock(); peaks[pid] = max(peaks[pid] ?? 0, kb * 1024); lock.unlock()
        }
        return go
    }
}
