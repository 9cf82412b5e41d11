import XCTest
import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTensor
import CohortTransport
import Foundation

/// The node's own policy against a coordinator that misbehaves or asks for less protection than
/// the node requires, driven by a scripted coordinator on loopback: it authenticates one node,
/// sends the frames the test chooses and reads what the node answers.
final class NodePolicyTests: XCTestCase {
    private let spec = ModelSpec(inputShape: [2], layers: [LayerSpec(.dense, name: "head", units: 2)])

    private func model(_ plan: TrainingPlan, assignment: SecureAggregationMessages.Assignment? = nil, round: Int = 1) throws -> StreamedMessage {
        let weights = try Sequential(spec: spec, seed: 1).stateDict()
        let header = RoundMessages.ModelHeader(round: round, modelVersion: round - 1, plan: plan, architecture: spec, secureAggregation: assignment)
        return try RoundMessages.modelMessage(.model, header: header, weights: weights)
    }

    /// A plan that asks for secure aggregation (or distributed DP) in a MODEL that gives the node
    /// no part in it is refused: the node sends ERROR naming the reason, not a clear update, and stops.
    func testAPlanAskingForSecureAggregationWithoutAnAssignmentIsRefused() throws {
        var secure = TrainingPlan()
        secure.secureAggregation = SecureAggregationPlan()
        var distributed = secure
        distributed.privacy = PrivacyPlan(clipNorm: 1, noiseMultiplier: 1, mode: .distributed)
        for plan in [secure, distributed] {
            let script = try ScriptedCoordinator()
            let node = script.startNode { _ in }
            let conn = try script.acceptNode()
            try conn.send(try model(plan), version: ProtocolVersion.current)
            let reply = try conn.receive(timeout: 10)
            XCTAssertEqual(reply.type, MessageType.error.rawValue, "the node answers ERROR, not an UPDATE")
            let message = try JSONDecoder().decode(Handshake.ErrorMessage.self, from: Data(reply.payload)).message
            XCTAssertTrue(message.contains("assigns this node no part in it"), message)
            XCTAssertTrue(node.wait().contains("refused the plan of round 1"), node.outcome)
            script.close()
        }
    }

    /// `--require-secure-aggregation` and `--require-dp`: a plan without them is refused with
    /// an error naming the flag; central DP does not satisfy `--require-dp` (its noise is added
    /// by the coordinator); distributed DP and record-level DP-SGD do.
    func testRequirementsRefuseAPlanWithoutThemNamingTheFlag() throws {
        var central = TrainingPlan()
        central.privacy = PrivacyPlan(clipNorm: 1, noiseMultiplier: 1)
        var record = TrainingPlan()
        record.recordPrivacy = RecordPrivacyPlan(noiseMultiplier: 1)
        for (plan, configure, expected) in [(TrainingPlan(), { (c: inout FederatedNode.Config) in c.requireSecureAggregation = true }, "--require-secure-aggregation"),
                                            (central, { (c: inout FederatedNode.Config) in c.requireDP = true }, "--require-dp")] {
            let script = try ScriptedCoordinator()
            let node = script.startNode(configure)
            let conn = try script.acceptNode()
            try conn.send(try model(plan), version: ProtocolVersion.current)
            let reply = try conn.receive(timeout: 10)
            XCTAssertEqual(reply.type, MessageType.error.rawValue)
            let message = try JSONDecoder().decode(Handshake.ErrorMessage.self, from: Data(reply.payload)).message
            XCTAssertTrue(message.contains(expected), message)
            XCTAssertTrue(node.wait().contains(expected), node.outcome)
            script.close()
        }
        XCTAssertTrue(FederatedNode.refusal(of: .init(round: 1, modelVersion: 0, plan: central, architecture: spec), requireSecureAggregation: false, requireDP: true)?
            .contains("central DP the coordinator adds the noise") ?? false)
        XCTAssertNil(FederatedNode.refusal(of: .init(round: 1, modelVersion: 0, plan: record, architecture: spec), requireSecureAggregation: false, requireDP: true))
        var both = TrainingPlan()
        both.secureAggregation = SecureAggregationPlan()
        both.privacy = PrivacyPlan(clipNorm: 1, noiseMultiplier: 1, mode: .distributed)
        let assigned = RoundMessages.ModelHeader(round: 1, modelVersion: 0, plan: both, architecture: spec,
                                                 secureAggregation: .init(session: 256, node: 1, threshold: 2, participants: 3, totalSamples: 24))
        XCTAssertNil(FederatedNode.refusal(of: assigned, requireSecureAggregation: true, requireDP: true))
    }

    /// An assignment whose threshold is not what the plan gives for its participants (here 3
    /// where the plan's majority of 3 is 2) is a protocol violation: the node sends no keys and
    /// drops the connection.
    func testAnAssignmentThresholdOtherThanThePlansIsRefused() throws {
        var plan = TrainingPlan()
        plan.secureAggregation = SecureAggregationPlan()
        let script = try ScriptedCoordinator()
        let node = script.startNode { $0.maxReconnects = 0 }
        let conn = try script.acceptNode()
        try conn.send(try model(plan, assignment: .init(session: 256, node: 1, threshold: 3, participants: 3, totalSamples: 24)), version: ProtocolVersion.current)
        XCTAssertThrowsError(try conn.receive(timeout: 10), "the node sent no SECAGG_KEYS")
        XCTAssertTrue(node.wait().contains("the assignment's threshold 3 is not the plan's 2 for 3 participants"), node.outcome)
        script.close()
    }

    /// Secure-aggregation messages that arrive outside a secure round (an ABORT or a late step
    /// of an attempt the node finished) are logged and ignored: the node serves the next round.
    func testStaleSecureAggregationMessagesOutsideARoundAreIgnored() throws {
        let script = try ScriptedCoordinator()
        let node = script.startNode { _ in }
        let conn = try script.acceptNode()
        try conn.send(try SecureAggregationMessages.frame(.secaggAbort, SecureAggregationMessages.AbortMessage(session: 257, reason: "unmasking failed")))
        try conn.send(try SecureAggregationMessages.frame(.secaggSurvivors, SecureAggregationMessages.SurvivorsMessage(session: 257, survivors: [1, 2])))
        try conn.send(try model(TrainingPlan(), round: 2), version: ProtocolVersion.current)
        let start = try conn.receive(timeout: 10)
        XCTAssertEqual(start.type, MessageType.update.rawValue, "the node answered the next MODEL")
        let update = try conn.receiveStreamedBytes(start, budget: 1 << 20, timeout: 10)
        XCTAssertEqual(try RoundMessages.parse(update, as: RoundMessages.UpdateHeader.self).header.round, 2)
        try conn.send(Frame(version: ProtocolVersion.current, type: MessageType.bye.rawValue, payload: []))
        XCTAssertEqual(node.wait(), "rounds 1")
        XCTAssertTrue(node.log.contains("ignoring a secure-aggregation message (type 19, session 257)"), node.log)
        XCTAssertTrue(node.log.contains("(type 17, session 257)"), node.log)
        script.close()
    }
}

/// A coordinator the test drives by hand: it listens on loopback, authenticates one node and
/// hands the test the connection.
final class ScriptedCoordinator: @unchecked Sendable {
    let listener: TCPListener
    private var connections: [FramedConnection] = []

    init() throws { listener = try TCPListener(host: "127.0.0.1", port: 0) }

    /// Starts a node ("a", `TinyFederation.secret(0)`) dialling this coordinator, adjusted by `configure`.
    func startNode(_ configure: (inout FederatedNode.Config) -> Void) -> NodeRun {
        var config = TinyFederation.node("a", secret: TinyFederation.secret(0), port: listener.port)
        config.timeout = 10
        config.connectAttempts = 3
        configure(&config)
        return NodeRun(config)
    }

    /// Accepts and authenticates the next node.
    func acceptNode() throws -> FramedConnection {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            guard let socket = try listener.accept(timeout: 1) else { continue }
            let conn = FramedConnection(stream: socket, readTimeout: 10)
            _ = try Handshake.accept(conn, secrets: ["a": TinyFederation.secret(0)])
            connections.append(conn)
            return conn
        }
        throw TransportError("no node connected")
    }

    func close() {
        for c in connections { c.close() }
        listener.close()
    }
}

/// A node running in its own thread; `wait` returns how its run ended.
final class NodeRun: @unchecked Sendable {
    private let lock = NSLock()
    private let done = DispatchSemaphore(value: 0)
    private var lines: [String] = []
    private var result = "running"
    private var error: Error?

    init(_ config: FederatedNode.Config) {
        let handOff = ConfigHandOff(config)
        Thread { [self] in
            let outcome: String
            do { outcome = "rounds \(try FederatedNode(config: handOff.config).run { line in self.lock.withLock { self.lines.append(line) } })" } catch {
                outcome = "failed: \(error)"
                lock.withLock { self.error = error }
            }
            lock.withLock { result = outcome }
            done.signal()
        }.start()
    }

    /// Waits (up to 20 s) for the run to end; returns "rounds N" or "failed: reason".
    @discardableResult
    func wait() -> String {
        _ = done.wait(timeout: .now() + 20)
        return outcome
    }

    var outcome: String { lock.withLock { result } }
    /// The error the run ended with (nil while running or after a clean end).
    var failure: Error? { lock.withLock { error } }
    var log: String { lock.withLock { lines.joined(separator: "\n") } }
}

/// Hands a node's configuration to the thread that runs it (its only user).
private struct ConfigHandOff: @unchecked Sendable {
    let config: FederatedNode.Config
    init(_ config: FederatedNode.Config) { self.config = config }
}
