import XCTest
import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTensor
import CohortTransport
import Foundation

/// Secure aggregation's consistency round over loopback with real `FederatedNode`s: an honest
/// coordinator's rounds complete; a scripted malicious coordinator that shows different nodes
/// different survivor sets gets no unmasking share from anyone.
final class ConsistencyRoundTests: XCTestCase {
    private let spec = ModelSpec(inputShape: [2], layers: [LayerSpec(.dense, name: "head", units: 2)])
    private let names = ["a", "b", "c"]

    private func identities() throws -> [String: SecureAggregation.Identity] {
        let seeds = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($0.element, SecureAggregationConsistencyTests.seed($0.offset)) })
        let peers = try seeds.mapValues { try SecureAggregation.Identity.publicKey(seed: $0) }
        return try seeds.mapValues { _ in () }.keys.reduce(into: [:]) { out, name in out[name] = try SecureAggregation.Identity(name: name, seed: seeds[name]!, peers: peers) }
    }

    private func plan() -> TrainingPlan {
        var plan = TrainingPlan()
        plan.secureAggregation = SecureAggregationPlan(consistencyCheck: true)
        return plan
    }

    private func startNodes(port: UInt16, identities: [String: SecureAggregation.Identity]?, reconnects: Int) -> [String: NodeRun] {
        var runs: [String: NodeRun] = [:]
        for (i, name) in names.enumerated() {
            var config = TinyFederation.node(name, secret: TinyFederation.secret(i), port: port)
            config.timeout = 15
            config.connectAttempts = 3
            config.maxReconnects = reconnects
            config.secureAggregationIdentity = identities?[name]
            runs[name] = NodeRun(config)
        }
        return runs
    }

    func testAnHonestCoordinatorsRoundsCompleteWithTheConsistencyRound() throws {
        let (coordinator, cleanup) = try TinyFederation.coordinator(nodes: names) { config in
            config.rounds = 2
            config.minNodes = 3
            config.roundTimeout = 20
            config.finalEvaluation = false
            config.plan = plan()
        }
        defer { cleanup() }
        let runs = startNodes(port: coordinator.port, identities: try identities(), reconnects: 2)
        let log = LockedLines()
        let records = try coordinator.run { log.append($0) }
        for r in runs.values { r.wait() }
        XCTAssertEqual(records.count, 2, log.text)
        for r in records {
            XCTAssertNil(r.unapplied, log.text)
            XCTAssertEqual(r.accepted, names)
        }
        for (name, r) in runs {
            XCTAssertTrue(r.log.contains("consistency check passed: 3 signature(s) of the survivor set [1, 2, 3]"), "\(name): \(r.log)")
        }
    }

    func testANodeWithoutASigningKeyRefusesAPlanAskingForTheConsistencyRound() throws {
        let (coordinator, cleanup) = try TinyFederation.coordinator(nodes: names) { config in
            config.rounds = 1
            config.minNodes = 3
            config.roundTimeout = 10
            config.waitForNodes = 10
            config.finalEvaluation = false
            config.plan = plan()
        }
        defer { cleanup() }
        let runs = startNodes(port: coordinator.port, identities: nil, reconnects: 0)
        _ = try? coordinator.run()
        for (name, r) in runs {
            r.wait()
            XCTAssertTrue(r.log.contains("has no signing key"), "\(name): \(r.log)")
        }
    }

    /// The attack: after masking, node 1 is shown {1, 3}, node 2 {1, 2, 3} and node 3 {2, 3}
    /// (t = 2 of 3), then each is sent its set with every signature collected. No set has two
    /// signatures, so no node reveals a share; with every node shown the same set (the control)
    /// all reveal.
    func testAScriptedCoordinatorShowingDifferentSurvivorSetsGetsNoShares() throws {
        XCTAssertEqual(try split(sets: [1: [1, 3], 2: [1, 2, 3], 3: [2, 3]]).count, 0, "no node revealed anything")
        XCTAssertEqual(try split(sets: [1: [1, 2, 3], 2: [1, 2, 3], 3: [1, 2, 3]]).count, 3, "control: the same set for all, all reveal")
    }

    /// Runs the scripted coordinator; returns the unmasking messages received, by node id.
    private func split(sets: [UInt32: [UInt32]]) throws -> [UInt32: SecureAggregationMessages.UnmaskMessage] {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        let runs = startNodes(port: listener.port, identities: try identities(), reconnects: 0)
        let secrets = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($0.element, TinyFederation.secret($0.offset)) })
        var conns: [UInt32: FramedConnection] = [:]
        let deadline = Date().addingTimeInterval(20)
        while conns.count < 3, Date() < deadline {
            guard let socket = try listener.accept(timeout: 1) else { continue }
            let conn = FramedConnection(stream: socket, readTimeout: 20)
            let who = try Handshake.accept(conn, secrets: secrets)
            conns[UInt32(names.firstIndex(of: who.name)! + 1)] = conn
        }
        defer { for c in conns.values { c.close() } }
        XCTAssertEqual(conns.count, 3)
        let ids = conns.keys.sorted()
        func next(_ id: UInt32, _ type: MessageType) throws -> Frame {
            while true {
                let f = try conns[id]!.receive(timeout: 20)
                if f.type == MessageType.heartbeat.rawValue { continue }
                guard f.type == type.rawValue else { throw TransportError("node \(id): expected \(type), got type \(f.type)") }
                return f
            }
        }
        let session: UInt64 = 256
        let encoding = try SecureUpdateEncoding(plan: plan(), architecture: spec, participants: 3, threshold: 2)
        let server = try SecureAggregation.Server(parameters: .init(round: session, threshold: 2, vectorLength: encoding.length))
        let weights = try Sequential(spec: spec, seed: 1).stateDict()
        for id in ids {
            let header = RoundMessages.ModelHeader(round: 1, modelVersion: 0, plan: plan(), architecture: spec,
                                                   secureAggregation: .init(session: session, node: id, threshold: 2, participants: 3, totalSamples: 24))
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
            let payload = try conns[id]!.receiveStreamedBytes(try next(id, .secaggMasked), budget: SecureAggregationMessages.maskedBudget(length: encoding.length), timeout: 20)
            let (h, body) = try RoundMessages.parse(payload, as: SecureAggregationMessages.MaskedHeader.self)
            try server.receive(SecureAggregation.MaskedInput(node: h.node, words: try SecureAggregationMessages.words(body, length: encoding.length)))
        }
        XCTAssertEqual(try server.finishMasking(), [1, 2, 3])
        // The lie: each node its own survivor set.
        for id in ids { try conns[id]!.send(try SecureAggregationMessages.frame(.secaggSurvivors, SecureAggregationMessages.SurvivorsMessage(session: session, survivors: sets[id]!))) }
        var signatures: [SecureAggregationMessages.SignatureMessage] = []
        for id in ids { signatures.append(try SecureAggregationMessages.parse(try next(id, .secaggSignature), as: SecureAggregationMessages.SignatureMessage.self, session: session)) }
        for id in ids {
            try conns[id]!.send(try SecureAggregationMessages.frame(.secaggSurvivors, SecureAggregationMessages.SurvivorsMessage(session: session, survivors: sets[id]!, signatures: signatures)))
        }
        var revealed: [UInt32: SecureAggregationMessages.UnmaskMessage] = [:]
        for id in ids {
            if let f = try? next(id, .secaggUnmask) {
                revealed[id] = try SecureAggregationMessages.parse(f, as: SecureAggregationMessages.UnmaskMessage.self, session: session)
            }
        }
        for (id, conn) in conns where revealed[id] != nil {
            _ = conn
            try conns[id]!.send(Frame(version: ProtocolVersion.current, type: MessageType.bye.rawValue, payload: []))
        }
        for (name, r) in runs {
            r.wait()
            let id = UInt32(names.firstIndex(of: name)! + 1)
            if revealed[id] == nil {
                XCTAssertTrue(r.log.contains("consistency check failed"), "\(name): \(r.log)")
            }
        }
        return revealed
    }
}
