import CohortCheckpoint
import CohortData
import Foundation
import XCTest

/// Image sites through the real binary: ImageFolders of PNG and JPEG files (written here with
/// libpng and libjpeg) trained by `cohort pretrain` and by two `cohort node`s, both streaming
/// the training images batch by batch; `.npz` archives likewise.
final class ImageFolderProcessTests: XCTestCase {
    /// Class `label`'s pattern (vertical bar, horizontal bar, diagonal) with noise, `side`×`side` RGB.
    private func pattern(label: Int, index: Int, side: Int, site: Int) -> DecodedImage {
        var state = UInt32(site * 100_000 + label * 1000 + index + 1)
        var pixels = [UInt8](repeating: 0, count: side * side * 3)
        for y in 0..<side { for x in 0..<side {
            state = state &* 1_664_525 &+ 1_013_904_223
            let on = label == 0 ? abs(x - side / 2) <= 1 : label == 1 ? abs(y - side / 2) <= 1 : abs(x - y) <= 1
            let v = (on ? 200 : 40) + Int(state >> 27) + site * 10
            for c in 0..<3 { pixels[(y * side + x) * 3 + c] = UInt8(min(255, v + c * 5)) }
        } }
        return DecodedImage(width: side, height: side, channels: 3, pixels: pixels)
    }

    /// 3 classes × `perClass` images; every third a JPEG; sides 12 and 16 (resized by the schema).
    private func writeFolder(_ root: String, site: Int, perClass: Int) throws {
        for (label, name) in ["bar", "flat", "slash"].enumerated() {
            try FileManager.default.createDirectory(atPath: root + "/" + name, withIntermediateDirectories: true)
            for i in 0..<perClass {
                let image = pattern(label: label, index: i, side: i % 2 == 0 ? 12 : 16, site: site)
                let jpeg = i % 3 == 2
                try Data(jpeg ? try ImageEncoder.jpeg(image, quality: 95) : try ImageEncoder.png(image))
                    .write(to: URL(fileURLWithPath: root + "/\(name)/\(i).\(jpeg ? "jpg" : "png")"))
            }
        }
    }

    private let schema = #"{"version":1,"image":{"height":8,"width":8,"channels":"grey","mean":[0.35],"std":[0.3]},"classes":["bar","flat","slash"]}"#
    private let arch = #"{"inputShape":[8,8,1],"layers":[{"kind":"flatten","name":"features.0"},{"kind":"dense","name":"features.1","units":16},{"kind":"relu","name":"features.2"},{"kind":"dense","name":"head","units":3}]}"#

    private func makeDir(_ tag: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-images-\(tag)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    private func log(_ url: URL) -> String { (try? String(contentsOf: url, encoding: .utf8)) ?? "" }

    func testPretrainStreamsAnImageFolder() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let dir = try makeDir("pretrain")
        defer { try? FileManager.default.removeItem(at: dir) }
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        try writeFolder(p("site"), site: 0, perClass: 20)
        try schema.write(toFile: p("schema.json"), atomically: true, encoding: .utf8)
        try arch.write(toFile: p("arch.json"), atomically: true, encoding: .utf8)
        let run = try ProcessHarness.launch(["pretrain", "--arch", p("arch.json"), "--schema", p("schema.json"), "--data", p("site"),
                                             "--epochs", "15", "--batch-size", "8", "--lr", "0.05", "--out", p("m.ckpt")], stderr: dir.appendingPathComponent("p.log"))
        XCTAssertEqual(ProcessHarness.wait(run, seconds: 120), 0, log(dir.appendingPathComponent("p.log")))
        let text = log(dir.appendingPathComponent("p.log"))
        XCTAssertTrue(text.contains("48 training images (streamed) and 12 validation images, 3 classes"), text)
        let checkpoint = try CheckpointFile.load(p("m.ckpt"))
        XCTAssertGreaterThan(checkpoint.metadata.metrics["val_accuracy"] ?? 0, 0.8, text)
        // A corrupt image is named, not trapped on.
        try Data([0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]).write(to: URL(fileURLWithPath: p("site/flat/bad.jpg")))
        let bad = try ProcessHarness.launch(["pretrain", "--arch", p("arch.json"), "--schema", p("schema.json"), "--data", p("site"),
                                             "--epochs", "1", "--val-fraction", "0", "--out", p("m2.ckpt")], stderr: dir.appendingPathComponent("b.log"))
        XCTAssertEqual(ProcessHarness.wait(bad, seconds: 60), 1)
        XCTAssertTrue(log(dir.appendingPathComponent("b.log")).contains("site/flat/bad.jpg: corrupt JPEG"), log(dir.appendingPathComponent("b.log")))
    }

    func testTwoImageFolderNodesFederate() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let dir = try makeDir("node")
        defer { try? FileManager.default.removeItem(at: dir) }
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        var secrets = ""
        for s in 0..<2 {
            try writeFolder(p("site\(s)"), site: s, perClass: 10)
            try writeFolder(p("test\(s)"), site: s + 5, perClass: 4)
            let key = String(format: "%032llx", 0x1234_5678_9abc_def0 &+ UInt64(s))
            secrets += "site\(s) \(key)\n"
            try (key + "\n").write(toFile: p("site\(s).key"), atomically: true, encoding: .utf8)
        }
        try secrets.write(toFile: p("secrets.txt"), atomically: true, encoding: .utf8)
        try schema.write(toFile: p("schema.json"), atomically: true, encoding: .utf8)
        try arch.write(toFile: p("arch.json"), atomically: true, encoding: .utf8)
        try #"{"batchSize":8,"learningRate":0.05,"localEpochs":3}"#.write(toFile: p("plan.json"), atomically: true, encoding: .utf8)
        XCTAssertEqual(ProcessHarness.wait(try ProcessHarness.launch(["model", "init", "--arch", p("arch.json"), "--out", p("init.ckpt"), "--seed", "1"],
                                                                     stderr: dir.appendingPathComponent("i.log")), seconds: 30), 0)
        let port = try ProcessHarness.freePort()
        let coordinator = try ProcessHarness.launch(["coordinator", "--model", p("init.ckpt"), "--plan", p("plan.json"), "--secrets", p("secrets.txt"),
                                                     "--listen", "127.0.0.1:\(port)", "--rounds", "4", "--min-nodes", "2", "--round-timeout", "30",
                                                     "--wait", "30", "--out", p("out"), "--insecure"], stderr: dir.appendingPathComponent("c.log"))
        let nodes = try (0..<2).map { s in
            try ProcessHarness.launch(["node", "--coordinator", "127.0.0.1:\(port)", "--name", "site\(s)", "--secret-file", p("site\(s).key"),
                                       "--data", p("site\(s)"), "--schema", p("schema.json"), "--test", p("test\(s)"), "--insecure"],
                                      stderr: dir.appendingPathComponent("n\(s).log"))
        }
        XCTAssertEqual(ProcessHarness.wait(coordinator, seconds: 120), 0, log(dir.appendingPathComponent("c.log")))
        for (s, n) in nodes.enumerated() { XCTAssertEqual(ProcessHarness.wait(n, seconds: 10), 0, log(dir.appendingPathComponent("n\(s).log"))) }
        let records = try String(contentsOfFile: p("out/rounds.jsonl"), encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(records.count, 4)
        for r in records { XCTAssertEqual((r["accepted"] as? [String])?.sorted(), ["site0", "site1"]) }
        let accuracy = records.map { $0["globalValidationAccuracy"] as? Double ?? 0 }
        XCTAssertGreaterThan(accuracy[3], 0.8, "global validation accuracy by round: \(accuracy)")
        // Each node scored the final model on its own test folder (12 images).
        let evaluation = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("out/evaluation.json"))) as! [String: Any]
        let evaluated = evaluation["nodes"] as? [String: [String: Any]] ?? [:]
        XCTAssertEqual(evaluated.keys.sorted(), ["site0", "site1"], "\(evaluation)")
        for (name, m) in evaluated {
            XCTAssertEqual(m["test_samples"] as? Double, 12, name)
            XCTAssertGreaterThan(m["test_accuracy"] as? Double ?? 0, 0.7, name)
        }
        // The training images were read from disk batch by batch, not decoded up front.
        for s in 0..<2 {
            let text = log(dir.appendingPathComponent("n\(s).log"))
            XCTAssertTrue(text.contains("24 training images (streamed from disk in batches), 6 validation and 12 test images in memory"), text)
        }
        // A plan step that needs every training image in memory is refused by a streaming node, naming it.
        try #"{"batchSize":8,"learningRate":0.05,"personalization":{"method":"fedavg-ft"}}"#.write(toFile: p("ft-plan.json"), atomically: true, encoding: .utf8)
        let port2 = try ProcessHarness.freePort()
        let refusing = try ProcessHarness.launch(["coordinator", "--model", p("init.ckpt"), "--plan", p("ft-plan.json"), "--secrets", p("secrets.txt"),
                                                  "--listen", "127.0.0.1:\(port2)", "--rounds", "1", "--min-nodes", "1", "--round-timeout", "20",
                                                  "--wait", "20", "--out", p("ft"), "--insecure"], stderr: dir.appendingPathComponent("c2.log"))
        defer { if refusing.isRunning { refusing.terminate() } }
        let node = try ProcessHarness.launch(["node", "--coordinator", "127.0.0.1:\(port2)", "--name", "site0", "--secret-file", p("site0.key"),
                                              "--data", p("site0"), "--schema", p("schema.json"), "--insecure"], stderr: dir.appendingPathComponent("n2.log"))
        XCTAssertEqual(ProcessHarness.wait(node, seconds: 60), 1, log(dir.appendingPathComponent("n2.log")))
        XCTAssertTrue(log(dir.appendingPathComponent("n2.log")).contains("the plan's personalization needs the training samples in memory"),
                      log(dir.appendingPathComponent("n2.log")))
    }

    /// A MedMNIST-style `.npz`: uint8 `N×H×W×3` images (sides 12, resized to 8 by the schema) and `N×1` labels.
    private func writeNpz(_ path: String, site: Int, perClass: Int, parts: [String]) throws {
        var arrays: [(String, [UInt8])] = []
        for (k, part) in parts.enumerated() {
            var images: [UInt8] = [], labels: [UInt8] = []
            for i in 0..<perClass { for label in 0..<3 {
                images += pattern(label: label, index: i + k * 1000, side: 12, site: site).pixels
                labels.append(UInt8(label))
            } }
            let n = labels.count
            arrays.append((part + "_images", NpzWriter.npyUInt8(images, shape: [n, 12, 12, 3])))
            arrays.append((part + "_labels", NpzWriter.npyUInt8(labels, shape: [n, 1])))
        }
        try Data(NpzWriter.archive(arrays)).write(to: URL(fileURLWithPath: path))
    }

    func testTwoNpzNodesFederate() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let dir = try makeDir("npz")
        defer { try? FileManager.default.removeItem(at: dir) }
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        var secrets = ""
        for s in 0..<2 {
            try writeNpz(p("site\(s).npz"), site: s, perClass: 12, parts: ["train", "val", "test"])
            let key = String(format: "%032llx", 0x1234_5678_9abc_def0 &+ UInt64(s))
            secrets += "site\(s) \(key)\n"
            try (key + "\n").write(toFile: p("site\(s).key"), atomically: true, encoding: .utf8)
        }
        try secrets.write(toFile: p("secrets.txt"), atomically: true, encoding: .utf8)
        try schema.write(toFile: p("schema.json"), atomically: true, encoding: .utf8)
        try arch.write(toFile: p("arch.json"), atomically: true, encoding: .utf8)
        try #"{"batchSize":8,"learningRate":0.05,"localEpochs":3}"#.write(toFile: p("plan.json"), atomically: true, encoding: .utf8)
        XCTAssertEqual(ProcessHarness.wait(try ProcessHarness.launch(["model", "init", "--arch", p("arch.json"), "--out", p("init.ckpt"), "--seed", "1"],
                                                                     stderr: dir.appendingPathComponent("i.log")), seconds: 30), 0)
        let port = try ProcessHarness.freePort()
        let coordinator = try ProcessHarness.launch(["coordinator", "--model", p("init.ckpt"), "--plan", p("plan.json"), "--secrets", p("secrets.txt"),
                                                     "--listen", "127.0.0.1:\(port)", "--rounds", "4", "--min-nodes", "2", "--round-timeout", "30",
                                                     "--wait", "30", "--out", p("out"), "--insecure"], stderr: dir.appendingPathComponent("c.log"))
        let nodes = try (0..<2).map { s in
            try ProcessHarness.launch(["node", "--coordinator", "127.0.0.1:\(port)", "--name", "site\(s)", "--secret-file", p("site\(s).key"),
                                       "--data", p("site\(s).npz"), "--schema", p("schema.json"), "--insecure"],
                                      stderr: dir.appendingPathComponent("n\(s).log"))
        }
        XCTAssertEqual(ProcessHarness.wait(coordinator, seconds: 120), 0, log(dir.appendingPathComponent("c.log")))
        for (s, n) in nodes.enumerated() { XCTAssertEqual(ProcessHarness.wait(n, seconds: 10), 0, log(dir.appendingPathComponent("n\(s).log"))) }
        let records = try String(contentsOfFile: p("out/rounds.jsonl"), encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(records.count, 4)
        for r in records { XCTAssertEqual((r["accepted"] as? [String])?.sorted(), ["site0", "site1"]) }
        XCTAssertGreaterThan(records.map { $0["globalValidationAccuracy"] as? Double ?? 0 }[3], 0.8, "\(records)")
        // The archive's test_ arrays (36 images per site) were scored.
        let evaluation = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("out/evaluation.json"))) as! [String: Any]
        let evaluated = evaluation["nodes"] as? [String: [String: Any]] ?? [:]
        XCTAssertEqual(evaluated.keys.sorted(), ["site0", "site1"], "\(evaluation)")
        for (name, m) in evaluated { XCTAssertEqual(m["test_samples"] as? Double, 36, name) }
        // The training images stayed uint8 and were prepared batch by batch.
        for s in 0..<2 {
            let text = log(dir.appendingPathComponent("n\(s).log"))
            XCTAssertTrue(text.contains("36 training images (kept as uint8, prepared batch by batch), 36 validation and 36 test images in memory"), text)
        }
        // A wrong layout is refused with every problem named.
        try Data(NpzWriter.archive([("train_images", NpzWriter.npyUInt8([1, 2, 3, 4], shape: [4])),
                                    ("train_labels", NpzWriter.npyUInt8([9], shape: [1]))])).write(to: URL(fileURLWithPath: p("bad.npz")))
        let bad = try ProcessHarness.launch(["pretrain", "--arch", p("arch.json"), "--schema", p("schema.json"), "--data", p("bad.npz"), "--out", p("b.ckpt")],
                                            stderr: dir.appendingPathComponent("b.log"))
        XCTAssertEqual(ProcessHarness.wait(bad, seconds: 30), 1)
        XCTAssertTrue(log(dir.appendingPathComponent("b.log")).contains("'train_images' has shape [4], not N×H×W or N×H×W×C"), log(dir.appendingPathComponent("b.log")))
    }
}
