import XCTest
import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTransport
import Foundation

/// Secure aggregation's consistency round against a malicious coordinator, across real
/// processes: the test process plays a scripted lying coordinator over loopback TCP (the script
/// of `ConsistencyRoundTests`, built on the same public API) and three `cohort node` processes
/// with `--secagg-signing-key` / `--secagg-peers` connect to it. Shown different survivor sets,
/// no node sends SECAGG_UNMASK; shown one set, all three do.
final class MaliciousCoordinatorProcessTests: XCTestCase {
    private let sites = ["site0", "site1", "site2"]   // ids 1, 2, 3: 1 + position among the sorted names
    private let rows = [200, 120, 60]                 // ProcessHarness.writeSites

    private func plan() -> TrainingPlan {
        var plan = TrainingPlan()
        plan.batchSize = 16
        plan.secureAggregation = SecureAggregationPlan(consistencyCheck: true)
        return plan
    }

    /// The attack: after masking (steps 1–3 run honestly), site0 (id 1) is shown {1, 3}, site1
    /// {1, 2, 3} and site2 {2, 3} (t = 2 of 3), then each is sent its set with every signature
    /// collected. No set has two signatures: every node drops the connection instead of
    /// revealing, logs `consistency check failed`, and, the coordinator being gone by then, ends
    /// with a non-zero status. The control: one set for all, and all three reveal and exit 0.
    func testAScriptedCoordinatorShowingNodeProcessesDifferentSurvivorSetsGetsNoShares() throws {
        let split = try run(sets: [1: [1, 3], 2: [1, 2, 3], 3: [2, 3]], tag: "split")
        XCTAssertEqual(split.revealed, [], "no node process revealed anything")
        for (s, node) in split.nodes.enumerated() {
            XCTAssertTrue(node.log.contains("consistency check failed"), "site\(s): \(node.log)")
            XCTAssertTrue(node.log.contains("revealing nothing"), "site\(s): \(node.log)")
            XCTAssertFalse(node.log.contains("revealed self-mask shares"), "site\(s): \(node.log)")
            XCTAssertFalse(node.log.contains("consistency check passed"), "site\(s): \(node.log)")
            XCTAssertNotNil(node.status, "site\(s) ended by itself: \(node.log)")
            XCTAssertNotEqual(node.status, 0, "site\(s): \(node.log)")
        }
        let control = try run(sets: [1: [1, 2, 3], 2: [1, 2, 3], 3: [1, 2, 3]], tag: "control")
        XCTAssertEqual(control.revealed, [1, 2, 3], "control: the same set for all, all reveal")
        for (s, node) in control.nodes.enumerated() {
            XCTAssertTrue(node.log.contains("consistency check passed: 3 signature(s) of the survivor set [1, 2, 3]"), "site\(s): \(node.log)")
            XCTAssertTrue(node.log.contains("revealed self-mask shares of 3 survivor(s)"), "site\(s): \(node.log)")
            XCTAssertEqual(node.status, 0, "site\(s): \(node.log)")
        }
    }

    private struct Outcome {
        /// Node ids whose SECAGG_UNMASK reached the scripted coordinator.
        let revealed: [UInt32]
        let nodes: [(status: Int32?, log: String)]
    }

    /// Writes the sites, signing keys and peers file, starts the three node processes against a
    /// scripted coordinator that shows node id its survivor set `sets[id]`, and returns what
    /// came back and how each process ended.
    private func run(sets: [UInt32: [UInt32]], tag: String) throws -> Outcome {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-malicious-\(tag)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func p(_ name: String) -> String { dir.appendingPathComponent(name).path }
        try ProcessHarness.writeSites(in: dir, plan: "{}")
        let spec = try JSONDecoder().decode(ModelSpec.self, from: Data(contentsOf: dir.appendingPathComponent("arch.json")))
        // Signing keys (private, 0600 as the node expects of a key) and the public-key list.
        var peers: [String: String] = [:]
        for (s, site) in sites.enumerated() {
            let seed = (0..<32).map { UInt8(truncatingIfNeeded: 0x51 &+ 37 &* s &+ $0) }
            try write(seed.map { String(format: "%02x", $0) }.joined() + "\n", to: p("\(site).sign"))
            peers[site] = try SecureAggregation.Identity.publicKey(seed: seed).map { String(format: "%02x", $0) }.joined()
        }
        try write(String(decoding: try JSONEncoder().encode(peers), as: UTF8.self), to: p("peers.json"))
        var secrets: [String: [UInt8]] = [:]
        for site in sites {
            secrets[site] = NodeSecrets.hexBytes(try String(contentsOfFile: p("\(site).key"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))
        }

        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        var listenerOpen = true
        defer { if listenerOpen { listener.close() } }
        var processes: [Process] = []
        defer { for n in processes where n.isRunning { n.terminate() } }
        for (s, site) in sites.enumerated() {
            processes.append(try ProcessHarness.launch(["node", "--coordinator", "127.0.0.1:\(listener.port)", "--name", site, "--secret-file", p("\(site).key"),
                                                        "--data", p("\(site).csv"), "--val-fraction", "0", "--insecure",
                                                        "--secagg-signing-key", p("\(site).sign"), "--secagg-peers", p("peers.json")],
                                                       stderr: dir.appendingPathComponent("node\(s).log")))
        }
        func nodeLog(_ s: Int) -> String { (try? String(contentsOfFile: p("node\(s).log"), encoding: .utf8)) ?? "" }
        func logs() -> String { sites.indices.map { "--- site\($0):\n" + nodeLog($0) }.joined(separator: "\n") }

        var conns: [UInt32: FramedConnection] = [:]
        defer { for c in conns.values { c.close() } }
        let deadline = Date().addingTimeInterval(30)
        while conns.count < 3, Date() < deadline {
            guard let socket = try listener.accept(timeout: 1) else { continue }
            let conn = FramedConnection(stream: socket, readTimeout: 60)
            let who = try Handshake.accept(conn, secrets: secrets)
            guard let index = sites.firstIndex(of: who.name) else { throw TransportError("unexpected node \(who.name)") }
            conns[UInt32(index + 1)] = conn
        }
        guard conns.count == 3 else { XCTFail("\(conns.count) of 3 node processes connected: \(logs())"); return Outcome(revealed: [], nodes: []) }
        let ids = conns.keys.sorted()
        func next(_ id: UInt32, _ type: MessageType) throws -> Frame {
            while true {
                let f = try conns[id]!.receive(timeout: 60)
                if f.type == MessageType.heartbeat.rawValue { continue }
                guard f.type == type.rawValue else { throw TransportError("node \(id): expected \(type), got type \(f.type)") }
                return f
            }
        }

        // Steps 1–3, honestly.
        let session: UInt64 = 1 << 8
        let encoding = try SecureUpdateEncoding(plan: plan(), architecture: spec, participants: 3, threshold: 2)
        let server = try SecureAggregation.Server(parameters: .init(round: session, threshold: 2, vectorLength: encoding.length))
        let weights = try Sequential(spec: spec, seed: 1).stateDict()
        for id in ids {
            let header = RoundMessages.ModelHeader(round: 1, modelVersion: 0, plan: plan(), architecture: spec,
                                                   secureAggregation: .init(session: session, node: id, threshold: 2, participants: 3,
                                                                            totalSamples: rows.reduce(0, +)))
            try conns[id]!.send(try RoundMessages.modelMessage(.model, header: header, weights: weights), version: ProtocolVersion.current)
        }
        for id in ids {
            try server.receive(try SecureAggregationMessages.parse(try next(id, .secaggKeys), as: SecureAggregationMessages.KeysMessage.self, session: session).keys.value)
        }
        let roster = try SecureAggregationMessages.frame(.secaggRoster, SecureAggregationMessages.RosterMessage(session: session, roster: try server.finishAdvertising().map { .init($0) }))
        for id in ids { try conns[id]!.send(roster) }
        for id in ids { try server.receive(try SecureAggregationMessages.parse(try next(id, .secaggShares), as: SecureAggregationMessages.SharesMessage.self, session: session).value) }
        _ = try server.finishSharing()
        for id in ids {
            try conns[id]!.send(try SecureAggregationMessages.frame(.secaggBundles, SecureAggregationMessages.BundlesMessage(session: session, bundles: try server.shares(for: id).map { .init($0) })))
        }
        for id in ids {
            let payload = try conns[id]!.receiveStreamedBytes(try next(id, .secaggMasked), budget: SecureAggregationMessages.maskedBudget(length: encoding.length), timeout: 60)
            let (h, body) = try RoundMessages.parse(payload, as: SecureAggregationMessages.MaskedHeader.self)
            try server.receive(SecureAggregation.MaskedInput(node: h.node, words: try SecureAggregationMessages.words(body, length: encoding.length)))
        }
        XCTAssertEqual(try server.finishMasking(), [1, 2, 3])

        // Step 4 with the consistency round: each node its own survivor set, then every signature.
        for id in ids { try conns[id]!.send(try SecureAggregationMessages.frame(.secaggSurvivors, SecureAggregationMessages.SurvivorsMessage(session: session, survivors: sets[id]!))) }
        var signatures: [SecureAggregationMessages.SignatureMessage] = []
        for id in ids { signatures.append(try SecureAggregationMessages.parse(try next(id, .secaggSignature), as: SecureAggregationMessages.SignatureMessage.self, session: session)) }
        for id in ids {
            try conns[id]!.send(try SecureAggregationMessages.frame(.secaggSurvivors, SecureAggregationMessages.SurvivorsMessage(session: session, survivors: sets[id]!, signatures: signatures)))
        }
        // A node either reveals (SECAGG_UNMASK) or drops the connection (the receive fails).
        var revealed: [UInt32] = []
        for id in ids {
            guard let f = try? next(id, .secaggUnmask) else { continue }
            let unmask = try SecureAggregationMessages.parse(f, as: SecureAggregationMessages.UnmaskMessage.self, session: session)
            XCTAssertEqual(unmask.node, id)
            XCTAssertEqual(unmask.selfMaskShares.map(\.of), sets[id]!, "node \(id) reveals b shares of the set it was shown")
            revealed.append(id)
        }
        // Those that revealed are told the run is over; the coordinator then goes away.
        for id in revealed { try conns[id]!.send(Frame(version: ProtocolVersion.current, type: MessageType.bye.rawValue, payload: [])) }
        listener.close()
        listenerOpen = false
        let statuses = processes.map { ProcessHarness.wait($0, seconds: 60) }
        return Outcome(revealed: revealed, nodes: sites.indices.map { (statuses[$0], nodeLog($0)) })
    }

    /// Writes `text` to `path` readable by its owner only.
    private func write(_ text: String, to path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
    }
}
