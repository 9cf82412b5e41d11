import XCTest
import CohortCheckpoint
import CohortFederation
import CohortTensor
import CohortTransport
import Foundation

/// A real coordinator process facing authenticated nodes that break the streamed UPDATE in
/// different ways, while two real node processes carry on with the federation.
final class StreamingProcessTests: XCTestCase {
    /// A node played by this test: it authenticates, takes the MODEL stream whole, then answers
    /// with `misbehave`, and holds its connection until the coordinator closes it.
    private func hostileNode(port: UInt16, name: String, secret: [UInt8], samples: Int,
                             misbehave: @escaping @Sendable (FramedConnection, RoundMessages.ModelHeader) throws -> Void) -> DispatchSemaphore {
        let done = DispatchSemaphore(value: 0)
        Thread {
            defer { done.signal() }
            guard let socket = try? TCPSocket.connect(host: "127.0.0.1", port: port, timeout: 5) else { return }
            let conn = FramedConnection(stream: socket, readTimeout: 30)
            defer { conn.close() }
            guard (try? Handshake.connect(conn, node: name, secret: secret, samples: samples)) != nil else { return }
            while let frame = try? conn.receive(timeout: 30) {
                guard frame.type == MessageType.model.rawValue else { continue }
                guard let payload = try? conn.receiveStreamedBytes(frame, budget: 1 << 30, timeout: 10),
                      let (header, _) = try? RoundMessages.parse(payload, as: RoundMessages.ModelHeader.self) else { return }
                try? misbehave(conn, header)
                while (try? conn.receive(timeout: 30)) != nil {}   // until dropped
                return
            }
        }.start()
        return done
    }

    private static func start(_ length: UInt64) -> Frame {
        Frame(version: ProtocolVersion.current, type: MessageType.update.rawValue, payload: withUnsafeBytes(of: length.littleEndian) { Array($0) })
    }

    private static func chunk(_ index: UInt32, _ data: [UInt8]) -> Frame {
        Frame(version: ProtocolVersion.current, type: MessageType.chunk.rawValue, payload: withUnsafeBytes(of: index.littleEndian) { Array($0) } + data)
    }

    func testMalformedUpdateStreamsCostOnlyTheirSenderWhileTheFederationGoesOn() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-stream-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try ProcessHarness.writeSites(in: dir, plan: #"{"batchSize":16,"codec":{"topKFraction":0.5,"quantization":{"int8":{"blockSize":64}},"zlibLevel":1}}"#)
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let hostile = ["site3": [UInt8](repeating: 3, count: 16), "site4": [UInt8](repeating: 4, count: 16), "site5": [UInt8](repeating: 5, count: 16)]
        let extra = hostile.keys.sorted().map { "\($0) \(hostile[$0]!.map { String(format: "%02x", $0) }.joined())\n" }.joined()
        try (String(contentsOfFile: p("secrets.txt"), encoding: .utf8) + extra).write(toFile: p("secrets.txt"), atomically: true, encoding: .utf8)
        XCTAssertEqual(ProcessHarness.wait(try ProcessHarness.launch(["model", "init", "--arch", p("arch.json"), "--out", p("init.ckpt")],
                                                                     stderr: dir.appendingPathComponent("i.log")), seconds: 30), 0)
        let port = try ProcessHarness.freePort()
        let coordinator = try ProcessHarness.launch(["coordinator", "--model", p("init.ckpt"), "--plan", p("plan.json"), "--secrets", p("secrets.txt"),
                                                     "--listen", "127.0.0.1:\(port)", "--rounds", "2", "--min-nodes", "5", "--quorum", "2",
                                                     "--round-timeout", "20", "--wait", "30", "--out", p("out"), "--insecure", "--no-final-evaluation"],
                                                    stderr: dir.appendingPathComponent("coordinator.log"))
        Thread.sleep(forTimeInterval: 0.3)
        let samples = 30
        // site3: a chunk out of order; site4: a length far over the budget; site5: a well-formed
        // stream whose second record holds a NaN.
        let h3 = hostileNode(port: port, name: "site3", secret: hostile["site3"]!, samples: samples) { conn, _ in
            try conn.send(Self.start(100))
            try conn.send(Self.chunk(1, [UInt8](repeating: 0, count: 100)))
        }
        let h4 = hostileNode(port: port, name: "site4", secret: hostile["site4"]!, samples: samples) { conn, _ in
            try conn.send(Self.start(1 << 40))
        }
        let h5 = hostileNode(port: port, name: "site5", secret: hostile["site5"]!, samples: samples) { conn, model in
            let delta = try ModelDelta([("head.weight", Tensor(shape: [2, 16])), ("head.bias", Tensor(shape: [2], data: [1, 2]))])
            var body = try DeltaEncoder(config: DeltaCodecConfig()).encode(delta)
            withUnsafeBytes(of: Float.nan.bitPattern.littleEndian) { body.replaceSubrange((body.count - 4)..., with: $0) }
            let header = RoundMessages.UpdateHeader(round: model.round, modelVersion: model.modelVersion, samples: samples, metrics: [:])
            try conn.send(StreamedMessage(type: MessageType.update.rawValue, bytes: try RoundMessages.payload(header, body: body), chunkSize: 64), version: ProtocolVersion.current)
        }
        let nodes = try (0..<2).map { s in
            try ProcessHarness.launch(["node", "--coordinator", "127.0.0.1:\(port)", "--name", "site\(s)", "--secret-file", p("site\(s).key"),
                                       "--data", p("site\(s).csv"), "--insecure"], stderr: dir.appendingPathComponent("node\(s).log"))
        }
        let log = { (try? String(contentsOfFile: p("coordinator.log"), encoding: .utf8)) ?? "" }
        XCTAssertEqual(ProcessHarness.wait(coordinator, seconds: 60), 0, log())
        for n in nodes { XCTAssertEqual(ProcessHarness.wait(n, seconds: 10), 0) }
        for h in [h3, h4, h5] { XCTAssertEqual(h.wait(timeout: DispatchTime.now() + 30), DispatchTimeoutResult.success) }
        let records = try String(contentsOfFile: p("out/rounds.jsonl"), encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(records.count, 2, log())
        XCTAssertEqual(records[0]["accepted"] as? [String], ["site0", "site1"], log())
        let rejected = records[0]["rejected"] as? [String: String] ?? [:]
        XCTAssertTrue(rejected["site3"]?.contains("chunk 1 arrived where chunk 0 was expected") ?? false, "\(rejected)")
        XCTAssertTrue(rejected["site4"]?.contains("announces 1099511627776 bytes, over the budget of 1049744 bytes") ?? false, "\(rejected)")
        XCTAssertTrue(rejected["site5"]?.contains("tensor 'head.bias'") ?? false, "\(rejected)")
        XCTAssertTrue(rejected["site5"]?.contains("float32 value 1 of 2 is nan") ?? false, "\(rejected)")
        XCTAssertEqual(records[1]["accepted"] as? [String], ["site0", "site1"], "the hostile nodes were dropped; the run went on: \(log())")
    }
}
