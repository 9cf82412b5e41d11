import XCTest
import CohortCheckpoint
import CohortNN
import CohortTensor
import Foundation

/// Federated LoRA across real processes: a coordinator and three nodes on loopback federate a
/// tiny ResNet-18 (width 4, 16×16×1 inputs) with `--lora-rank 2 --lora-targets 'layer*.conv*'`
/// and the head `fc` trainable, beside the same federation fine-tuning everything.
final class LoRAFederationProcessTests: XCTestCase {
    private let lora = LoRASpec(rank: 2, targets: ["layer*.conv*"])
    private let planSeed: UInt64 = 3

    private struct Run {
        let records: [[String: Any]]
        let final: Checkpoint
        let log: String
    }

    /// Three sites of 16×16 single-channel images (48/40/32 rows) whose class is which half is
    /// bright, each with its own brightness offset, as CSV with 256 pixel columns.
    private func writeImageSites(in dir: URL) throws {
        var state: UInt64 = 7
        func uniform() -> Double { state = state &* 6364136223846793005 &+ 1442695040888963407; return Double(state >> 11) / Double(1 << 53) }
        func gauss() -> Double { (-2 * log(max(uniform(), 1e-12))).squareRoot() * cos(2 * .pi * uniform()) }
        var secrets = ""
        for (s, n) in [48, 40, 32].enumerated() {
            var csv = (0..<256).map { "p\($0)" }.joined(separator: ",") + ",target\n"
            for i in 0..<n {
                let y = i % 2
                let pixels = (0..<256).map { p -> String in
                    let top = p / 16 < 8
                    return String(format: "%.3f", 0.5 * gauss() + ((y == 1) == top ? 1.0 : 0.0) + 0.2 * Double(s))
                }
                csv += pixels.joined(separator: ",") + ",\(y)\n"
            }
            try csv.write(to: dir.appendingPathComponent("site\(s).csv"), atomically: true, encoding: .utf8)
            let key = String(format: "%032llx", 0x0bad_cafe_0000 &+ UInt64(s))
            secrets += "site\(s) \(key)\n"
            try (key + "\n").write(to: dir.appendingPathComponent("site\(s).key"), atomically: true, encoding: .utf8)
        }
        try secrets.write(to: dir.appendingPathComponent("secrets.txt"), atomically: true, encoding: .utf8)
    }

    private func federate(in dir: URL, tag: String, plan: String, flags: [String]) throws -> Run {
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        try plan.write(to: dir.appendingPathComponent("\(tag)-plan.json"), atomically: true, encoding: .utf8)
        let port = try ProcessHarness.freePort()
        let coordinator = try ProcessHarness.launch(["coordinator", "--model", p("init.ckpt"), "--plan", p("\(tag)-plan.json"), "--secrets", p("secrets.txt"),
                                                     "--listen", "127.0.0.1:\(port)", "--rounds", "2", "--min-nodes", "3", "--round-timeout", "60",
                                                     "--wait", "30", "--out", p(tag), "--insecure"] + flags, stderr: dir.appendingPathComponent("\(tag).log"))
        let nodes = try (0..<3).map { s in
            try ProcessHarness.launch(["node", "--coordinator", "127.0.0.1:\(port)", "--name", "site\(s)", "--secret-file", p("site\(s).key"),
                                       "--data", p("site\(s).csv"), "--insecure"], stderr: dir.appendingPathComponent("\(tag)-node\(s).log"))
        }
        let log = { (try? String(contentsOfFile: p("\(tag).log"), encoding: .utf8)) ?? "" }
        XCTAssertEqual(ProcessHarness.wait(coordinator, seconds: 120), 0, log())
        for (s, n) in nodes.enumerated() {
            XCTAssertEqual(ProcessHarness.wait(n, seconds: 20), 0, (try? String(contentsOfFile: p("\(tag)-node\(s).log"), encoding: .utf8)) ?? "")
        }
        let records = try String(contentsOfFile: p("\(tag)/rounds.jsonl"), encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        return Run(records: records, final: try CheckpointFile.load(p("\(tag)/global.ckpt")), log: log())
    }

    /// Whether `name` may cross the wire under the LoRA plan: a factor, the head, or a
    /// BatchNorm running statistic.
    private func allowed(_ name: String) -> Bool {
        name.hasSuffix(".lora_A") || name.hasSuffix(".lora_B") || name.hasPrefix("fc.")
            || name.hasSuffix(".running_mean") || name.hasSuffix(".running_var")
    }

    func testLoRAFederationSendsOnlyFactorsHeadAndStatisticsAndKeepsTheBaseFrozen() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-lora-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        try writeImageSites(in: dir)
        let initialise = try ProcessHarness.capture(["model", "init", "--preset", "resnet18", "--classes", "2", "--input", "16x16x1",
                                                     "--preset-options", #"{"width":4}"#, "--out", p("init.ckpt"), "--seed", "1"])
        XCTAssertEqual(initialise.status, 0, initialise.stderr)

        let withLoRA = try federate(in: dir, tag: "lora", plan: #"{"batchSize":16,"learningRate":0.05,"seed":\#(planSeed),"trainablePrefixes":["fc"]}"#,
                                    flags: ["--lora-rank", "2", "--lora-targets", "layer*.conv*"])
        let full = try federate(in: dir, tag: "full", plan: #"{"batchSize":16,"learningRate":0.05,"seed":\#(planSeed)}"#, flags: [])
        XCTAssertEqual(withLoRA.records.count, 2, withLoRA.log)
        XCTAssertEqual(full.records.count, 2, full.log)

        // (a) What an UPDATE holds: the float32 delta of exactly the allowed tensors. The
        // encoded size names every tensor and carries 4 bytes per value, so any other tensor
        // (a base conv weight, a BatchNorm affine) would change the byte count every node reports.
        let initial = try CheckpointFile.load(p("init.ckpt"))
        let adapted = try initial.addingLoRA(lora, seed: planSeed)
        let sent = adapted.tensors.filter { allowed($0.name) }
        XCTAssertTrue(sent.contains { $0.name == "layer4.1.conv2.lora_B" } && sent.contains { $0.name == "fc.weight" }
                      && sent.contains { $0.name == "layer1.0.bn1.running_var" }, "\(sent.map(\.name))")
        XCTAssertFalse(sent.contains { $0.name == "layer4.1.conv2.weight" || $0.name == "conv1.weight" || $0.name == "bn1.weight" })
        let expected = try DeltaEncoder(config: DeltaCodecConfig()).encode(try ModelDelta(sent.map { ($0.name, Tensor(shape: $0.value.shape)) })).count
        let everything = try DeltaEncoder(config: DeltaCodecConfig()).encode(try ModelDelta(initial.tensors.map { ($0.name, Tensor(shape: $0.value.shape)) })).count
        for (r, record) in withLoRA.records.enumerated() {
            let metrics = try XCTUnwrap(record["nodeMetrics"] as? [String: [String: Double]])
            XCTAssertEqual(metrics.keys.sorted(), ["site0", "site1", "site2"])
            for (site, m) in metrics {
                XCTAssertEqual(m["update_bytes"].map { Int($0) }, expected, "round \(r + 1) \(site): UPDATE size of the factors, fc and BN statistics")
            }
        }
        for record in full.records {
            for (_, m) in try XCTUnwrap(record["nodeMetrics"] as? [String: [String: Double]]) {
                XCTAssertEqual(m["update_bytes"].map { Int($0) }, everything, "full fine-tuning sends every tensor")
            }
        }

        // (b) Bytes up per round, from the two coordinators' journals.
        for (l, f) in zip(withLoRA.records, full.records) {
            let up = try XCTUnwrap(l["bytesUp"] as? Int), fullUp = try XCTUnwrap(f["bytesUp"] as? Int)
            XCTAssertGreaterThan(up, 0)
            XCTAssertLessThan(up * 5, fullUp, "LoRA UPDATE bytes \(up) vs full fine-tuning \(fullUp) per round")
        }

        // (c) The final global model: base conv weights bit-identical to the initial ones, lora_B moved.
        let finalTensors = Dictionary(uniqueKeysWithValues: withLoRA.final.tensors.map { ($0.name, $0.value) })
        let initialTensors = Dictionary(uniqueKeysWithValues: initial.tensors.map { ($0.name, $0.value) })
        XCTAssertEqual(withLoRA.final.architecture?.lora, lora)
        let baseConvs = initialTensors.keys.filter { $0.hasPrefix("layer") && $0.contains(".conv") && $0.hasSuffix(".weight") }.sorted()
        XCTAssertEqual(baseConvs.count, 16, "\(baseConvs)")
        for name in baseConvs {
            XCTAssertEqual(finalTensors[name]?.data.map(\.bitPattern), initialTensors[name]?.data.map(\.bitPattern), "\(name) moved")
        }
        let bNames = finalTensors.keys.filter { $0.hasSuffix(".lora_B") }
        XCTAssertEqual(bNames.count, 16)
        XCTAssertTrue(bNames.contains { finalTensors[$0]!.data.contains { $0 != 0 } }, "no lora_B moved from zero")
        XCTAssertNotEqual(finalTensors["fc.weight"]?.data, initialTensors["fc.weight"]?.data, "the head trained")

        // (d) export --merge-lora: no factors left, conv weights W0 + α/r·B·A differ from the base.
        let export = try ProcessHarness.capture(["export", p("lora/global.ckpt"), "--merge-lora", "--out", p("merged.safetensors")])
        XCTAssertEqual(export.status, 0, export.stderr)
        let merged = Dictionary(uniqueKeysWithValues: try Safetensors.load(p("merged.safetensors")).tensors.map { ($0.name, $0.value) })
        XCTAssertFalse(merged.keys.contains { $0.contains("lora") }, "\(merged.keys.sorted())")
        XCTAssertEqual(Set(merged.keys), Set(initialTensors.keys))
        let changed = baseConvs.filter { merged[$0]?.data != initialTensors[$0]?.data }
        XCTAssertFalse(changed.isEmpty, "merging changed no conv weight")
        for name in baseConvs where !(finalTensors[name.replacingOccurrences(of: ".weight", with: ".lora_B")]?.data.allSatisfy { $0 == 0 } ?? true) {
            XCTAssertTrue(changed.contains(name), "\(name): its lora_B moved but the merged weight equals the base")
        }
        XCTAssertEqual(merged["conv1.weight"]?.data, initialTensors["conv1.weight"]?.data, "conv1 is not a LoRA target")
    }
}
