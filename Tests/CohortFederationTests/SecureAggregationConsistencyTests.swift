import XCTest
import CohortFederation
import Foundation

/// The consistency round against a malicious coordinator, in-process: signed keys, signed
/// survivor sets, and nodes that reveal only with t signatures of the set they signed.
final class SecureAggregationConsistencyTests: XCTestCase {
    static func seed(_ i: Int) -> [UInt8] { (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ i &* 31 &+ 1) } }
    static func names(_ n: Int) -> [String] { (1...n).map { "site\($0)" } }

    /// Identities for `n` nodes named site1…siteN (ids 1…n in sorted order while n ≤ 9).
    static func identities(_ n: Int) throws -> [SecureAggregation.Identity] {
        let peers = Dictionary(uniqueKeysWithValues: try names(n).enumerated().map { ($0.element, try SecureAggregation.Identity.publicKey(seed: seed($0.offset))) })
        return try names(n).enumerated().map { try SecureAggregation.Identity(name: $0.element, seed: seed($0.offset), peers: peers) }
    }

    /// n clients through masking with the honest server; returns the clients, the server and U₃.
    private func masked(_ n: Int, threshold: Int, length: Int = 8) throws -> ([SecureAggregation.Client], SecureAggregation.Server, [UInt32]) {
        let p = SecureAggregation.Parameters(round: 9, threshold: threshold, vectorLength: length)
        let ids = try Self.identities(n)
        let clients = try (1...n).map { try SecureAggregation.Client(node: UInt32($0), parameters: p, random: CryptoRandom(seed: UInt64($0)), identity: ids[$0 - 1]) }
        let server = try SecureAggregation.Server(parameters: p)
        for c in clients { try server.receive(try c.advertiseKeys()) }
        let roster = try server.finishAdvertising()
        for c in clients { try server.receive(try c.shareKeys(roster: roster)) }
        _ = try server.finishSharing()
        for c in clients { try server.receive(try c.maskInput([UInt32](repeating: c.node, count: length), shares: try server.shares(for: c.node))) }
        return (clients, server, try server.finishMasking())
    }

    func testSignaturesVerifyAndForgeriesDoNot() throws {
        let signer = try Ed25519Signer(seed: Self.seed(0))
        let message = Array("survivors".utf8)
        let signature = try signer.sign(message)
        XCTAssertTrue(Ed25519Signer.verify(signature, of: message, publicKey: signer.publicKey))
        XCTAssertFalse(Ed25519Signer.verify(signature, of: Array("survivorz".utf8), publicKey: signer.publicKey))
        XCTAssertFalse(Ed25519Signer.verify(signature, of: message, publicKey: try Ed25519Signer(seed: Self.seed(1)).publicKey))
        var flipped = signature
        flipped[5] ^= 1
        XCTAssertFalse(Ed25519Signer.verify(flipped, of: message, publicKey: signer.publicKey))
        XCTAssertFalse(Ed25519Signer.verify([], of: message, publicKey: signer.publicKey))
    }

    func testHonestRoundWithSignaturesGivesTheExactSum() throws {
        let (clients, server, u3) = try masked(5, threshold: 3)
        var signatures: [UInt32: [UInt8]] = [:]
        for c in clients { signatures[c.node] = try c.signSurvivors(u3) }
        for c in clients { try server.receive(try c.unmask(survivors: u3, signatures: signatures)) }
        XCTAssertEqual(try server.finishUnmasking(), [UInt32](repeating: 1 + 2 + 3 + 4 + 5, count: 8))
    }

    func testANodeWithAnIdentityRefusesToRevealWithoutTheConsistencyRound() throws {
        let (clients, _, u3) = try masked(3, threshold: 2)
        XCTAssertThrowsError(try clients[0].unmask(survivors: u3)) {
            guard case .inconsistentSurvivors? = $0 as? SecureAggregationError else { return XCTFail("\($0)") }
        }
    }

    /// The attack: nodes 1–2 are shown {1,2,3,4}, nodes 3–4 are shown {2,3,4}; each set gets
    /// only two signatures, below t = 3, so nobody reveals. Signatures of the other set, or
    /// made with a key the coordinator generated, do not count.
    func testDifferentSurvivorSetsForDifferentNodesMakeEveryNodeRefuse() throws {
        let (clients, _, u3) = try masked(4, threshold: 3)
        XCTAssertEqual(u3, [1, 2, 3, 4])
        let shown: [[UInt32]] = [[1, 2, 3, 4], [1, 2, 3, 4], [2, 3, 4], [2, 3, 4]]
        var signatures: [UInt32: [UInt8]] = [:]
        for (c, set) in zip(clients, shown) { signatures[c.node] = try c.signSurvivors(set) }
        let forger = try Ed25519Signer(seed: Self.seed(99))
        for (c, set) in zip(clients, shown) {
            var offered = signatures
            // The coordinator pads the set with a forged signature "by" node 3 or 2.
            let missing: UInt32 = set.count == 4 ? 3 : 2
            offered[missing] = try forger.sign(Array("anything".utf8))
            XCTAssertThrowsError(try c.unmask(survivors: set, signatures: offered), "node \(c.node) must refuse") {
                guard case .inconsistentSurvivors? = $0 as? SecureAggregationError else { return XCTFail("\($0)") }
            }
        }
    }

    func testAskingToRevealForAnotherSetThanTheSignedOneIsRefused() throws {
        let (clients, _, u3) = try masked(4, threshold: 3)
        var signatures: [UInt32: [UInt8]] = [:]
        for c in clients { signatures[c.node] = try c.signSurvivors(u3) }
        XCTAssertThrowsError(try clients[0].unmask(survivors: [1, 2, 3], signatures: signatures)) {
            guard case .inconsistentSurvivors? = $0 as? SecureAggregationError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try clients[1].signSurvivors([1, 2, 3]), "a node signs one set per round")
    }

    /// Key substitution: the coordinator replaces node 2's encryption key in the roster with its
    /// own (to read the bundles sealed for node 2); the others refuse the roster.
    func testARosterWithASubstitutedOrUnsignedKeyIsRefused() throws {
        let p = SecureAggregation.Parameters(round: 9, threshold: 2, vectorLength: 4)
        let ids = try Self.identities(3)
        let clients = try (1...3).map { try SecureAggregation.Client(node: UInt32($0), parameters: p, random: CryptoRandom(seed: UInt64($0)), identity: ids[$0 - 1]) }
        let keys = try clients.map { try $0.advertiseKeys() }
        var substituted = keys
        substituted[1].encryptionKey = X25519KeyPair.generate(random: CryptoRandom(seed: 77)).publicKey
        XCTAssertThrowsError(try clients[0].shareKeys(roster: substituted))
        var unsigned = keys
        unsigned[2].signature = nil
        XCTAssertThrowsError(try clients[1].shareKeys(roster: unsigned))
        XCTAssertNoThrow(try clients[2].shareKeys(roster: keys))
        // A threshold that is not a majority of the roster (t = 2 of 4) is refused before any share goes out.
        let ids4 = try Self.identities(4)
        let minority = SecureAggregation.Parameters(round: 9, threshold: 2, vectorLength: 4)
        let four = try (1...4).map { try SecureAggregation.Client(node: UInt32($0), parameters: minority, random: CryptoRandom(seed: UInt64($0)), identity: ids4[$0 - 1]) }
        let roster4 = try four.map { try $0.advertiseKeys() }
        XCTAssertThrowsError(try four[0].shareKeys(roster: roster4)) {
            guard case .inconsistentSurvivors? = $0 as? SecureAggregationError else { return XCTFail("\($0)") }
        }
        // An id other than the one the peers give the name is refused at once.
        XCTAssertThrowsError(try SecureAggregation.Client(node: 2, parameters: p, random: CryptoRandom(seed: 1), identity: ids[0]))
    }
}
