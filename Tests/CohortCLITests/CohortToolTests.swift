import XCTest
import CohortCLI
import CohortCheckpoint
import CohortTensor
import Foundation

/// The real `cohort` binary and its in-process entry point.
final class CohortToolTests: XCTestCase {
    /// The `cohort` executable built next to this test bundle.
    private var binary: URL { CohortBinary.url }

    private func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        let r = try ProcessHarness.capture(args)
        return (r.status, r.stdout, r.stderr)
    }

    func testBinaryVersionHelpAndUsageErrors() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary.path), "cohort binary not built")
        let version = try run(["--version"])
        XCTAssertEqual(version.status, 0)
        XCTAssertEqual(version.out.trimmingCharacters(in: .whitespacesAndNewlines), "cohort \(CohortTool.version)")
        let help = try run(["--help"])
        XCTAssertEqual(help.status, 0)
        for command in ["bench train", "bench gemm", "model summary", "import", "export", "info"] { XCTAssertTrue(help.out.contains(command), command) }
        for sub in [["bench", "train"], ["bench", "gemm"], ["model", "summary"], ["import"], ["export"], ["info"]] {
            let h = try run(sub + ["--help"])
            XCTAssertEqual(h.status, 0)
            XCTAssertTrue(h.out.contains("USAGE: cohort \(sub.joined(separator: " "))"), h.out)
        }
        let unknown = try run(["bench", "train", "--thread", "2"])
        XCTAssertEqual(unknown.status, 2)
        XCTAssertEqual(unknown.err, "cohort bench train: unknown option '--thread' (did you mean '--threads'?)\n")
        let missing = try run(["bench", "gemm", "--seconds"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertEqual(missing.err, "cohort bench gemm: option '--seconds' needs a value\n")
    }

    func testInfoReportsLinkedSystemLibraries() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary.path), "cohort binary not built")
        let r = try run(["info", "--json"])
        XCTAssertEqual(r.status, 0, r.err)
        let json = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
        XCTAssertTrue((json?["zlib"] as? String)?.hasPrefix("1.") ?? false, r.out)
        XCTAssertTrue((json?["openssl"] as? String)?.hasPrefix("OpenSSL 3") ?? false, r.out)
    }

    /// A process held to one core (`taskset`, as a Slurm cpuset or a pinned pod would) splits
    /// no kernel call across threads: its worker pool is as wide as its CPU affinity.
    func testWorkerThreadsFollowTheCPUAffinity() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary.path), "cohort binary not built")
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/taskset"), "no taskset on this machine")
        func threads(pinned: Bool) throws -> Int? {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: pinned ? "/usr/bin/taskset" : binary.path)
            process.arguments = (pinned ? ["-c", "0", binary.path] : []) + ["info", "--json"]
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0)
            return (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["workerThreads"] as? Int
        }
        XCTAssertEqual(try threads(pinned: true), 1)
        // Unpinned, as wide as the cores this test process may use (its own affinity).
        XCTAssertEqual(try threads(pinned: false), min(WorkerPool.usableCores, 64))
    }

    func testBenchTrainRunsAndPrintsJSON() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary.path), "cohort binary not built")
        let r = try run(["bench", "train", "--cases", "tabular", "--threads", "1", "--seconds", "0.05", "--repeats", "1", "--warmup", "0", "--json"])
        XCTAssertEqual(r.status, 0, r.err)
        let json = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
        let rate = (((json?["byThreads"] as? [String: Any])?["1"] as? [String: Any])?["cases"] as? [String: Any])?["tabular"] as? [String: Any]
        let median = (rate?["samplesPerSecond"] as? [String: Any])?["median"] as? Double
        XCTAssertGreaterThan(median ?? 0, 0)
    }

    /// `bench privacy` on a tiny model: every configuration is reported, secure aggregation
    /// costs the nodes and the coordinator more CPU and a little more upload than plain FedAvg,
    /// and a bad list is a usage error naming the flag.
    func testBenchPrivacyRunsAndPrintsJSON() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary.path), "cohort binary not built")
        let r = try run(["bench", "privacy", "--nodes", "3,5", "--params", "20000", "--dropouts", "0,1", "--repeats", "1", "--json"])
        XCTAssertEqual(r.status, 0, r.err)
        let json = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
        let cases = (json?["secureAggregation"] as? [String: Any])?["cases"] as? [[String: Any]] ?? []
        XCTAssertEqual(cases.map { [$0["nodes"] as? Int ?? 0, $0["dropouts"] as? Int ?? 0] }, [[3, 0], [5, 0], [3, 1], [5, 1]])
        for c in cases {
            let plain = c["plain"] as? [String: Any] ?? [:], secure = c["secure"] as? [String: Any] ?? [:]
            XCTAssertGreaterThan(secure["bytesUpPerNode"] as? Int ?? 0, plain["bytesUpPerNode"] as? Int ?? .max, "\(c)")
            XCTAssertGreaterThan(secure["coordinatorCPUSeconds"] as? Double ?? 0, 0)
            XCTAssertGreaterThan(c["nodeCPURatio"] as? Double ?? 0, 1, "\(c)")
        }
        XCTAssertNil(json?["differentialPrivacy"] as? [String: Any], "no simulation was given")
        let bad = try run(["bench", "privacy", "--nodes", "3,x"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.err.contains("--nodes must be comma-separated integers"), bad.err)
        let tooMany = try run(["bench", "privacy", "--nodes", "4", "--dropouts", "2"])
        XCTAssertEqual(tooMany.status, 2)
        XCTAssertTrue(tooMany.err.contains("--dropouts 2 leaves fewer than the threshold"), tooMany.err)
    }

    func testImportThenExportReproducesTheSafetensorsTensors() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary.path), "cohort binary not built")
        // The fixture lives in the checkpoint tests; find it from this source file's location.
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("CohortCheckpointTests/Fixtures")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-import-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let ckpt = dir.appendingPathComponent("m.ckpt").path, back = dir.appendingPathComponent("m.safetensors").path
        let imported = try run(["import", "--safetensors", fixtures.appendingPathComponent("model.safetensors").path,
                                "--arch", fixtures.appendingPathComponent("arch.json").path, "--out", ckpt])
        XCTAssertEqual(imported.status, 0, imported.err)
        XCTAssertTrue(imported.err.contains("ignored features.1.num_batches_tracked"), imported.err)
        let exported = try run(["export", ckpt, "--out", back])
        XCTAssertEqual(exported.status, 0, exported.err)
        let original = try Safetensors.load(fixtures.appendingPathComponent("model.safetensors").path).tensors
            .filter { !$0.name.hasSuffix("num_batches_tracked") }
        let again = try Safetensors.load(back).tensors
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: again.map { ($0.name, $0.value) }),
                       Dictionary(uniqueKeysWithValues: original.map { ($0.name, $0.value) }))
        let bad = try run(["export", ckpt, "--format", "onnx", "--out", back])
        XCTAssertEqual(bad.status, 2)
        XCTAssertEqual(bad.err, "cohort export: option '--format' supports only 'safetensors', got 'onnx'\n")
    }

    func testInvalidValuesExitWithUsageStatus() {
        XCTAssertEqual(CohortTool.main(["bench", "train", "--threads", "3"]), 2)
        XCTAssertEqual(CohortTool.main(["bench", "train", "--cases", "resnet"]), 2)
        XCTAssertEqual(CohortTool.main(["bench", "train", "--repeats", "0"]), 2)
        XCTAssertEqual(CohortTool.main(["nonsense"]), 2)
    }

    func testModelSummaryReportsTheFaultyLayer() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-cli-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.json"), bad = dir.appendingPathComponent("bad.json")
        try Data(#"{"inputShape":[8,8,1],"layers":[{"kind":"conv2d","name":"features.0","units":4,"kernel":3},{"kind":"relu","name":"features.1"},{"kind":"flatten","name":"flat"},{"kind":"dense","name":"head","units":2}]}"#.utf8).write(to: good)
        try Data(#"{"inputShape":[8,8,1],"layers":[{"kind":"conv2d","name":"features.0","kernel":3}]}"#.utf8).write(to: bad)
        XCTAssertEqual(CohortTool.main(["model", "summary", "--arch", good.path]), 0)
        XCTAssertEqual(CohortTool.main(["model", "summary", "--arch", bad.path]), 1)
        XCTAssertEqual(CohortTool.main(["model", "summary", "--arch", dir.appendingPathComponent("absent.json").path]), 1)
    }

    func testDatagenWritesACohortAndRefusesToClobberIt() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-cli-datagen-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        defer { try? FileManager.default.removeItem(at: dir) }
        let args = ["datagen", "--out", dir.path, "--kind", "tabular", "--sites", "2", "--quick", "--seed", "4"]
        XCTAssertEqual(CohortTool.main(args), 0)
        for file in ["cohort.json", "source/train.csv", "source/val.csv", "hospital-1/train.csv", "hospital-2/test.csv"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent(file).path), file)
        }
        let manifest = try Data(contentsOf: dir.appendingPathComponent("cohort.json"))
        XCTAssertEqual(CohortTool.main(args), 1, "a non-empty --out without --force is refused")
        XCTAssertEqual(try Data(contentsOf: dir.appendingPathComponent("cohort.json")), manifest)
        XCTAssertEqual(CohortTool.main(args + ["--force"]), 0)
        XCTAssertEqual(try Data(contentsOf: dir.appendingPathComponent("cohort.json")), manifest, "same seed, same cohort")
        XCTAssertEqual(CohortTool.main(["datagen", "--out", dir.path, "--kind", "audio"]), 2)
        XCTAssertEqual(CohortTool.main(["datagen", "--out", dir.path, "--seed", "-1"]), 2)
    }
}
