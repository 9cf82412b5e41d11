import Foundation

extension SecureAggregation {
    /// What lets a node take part in the consistency round (protocols/secure-aggregation.md,
    /// "Malicious coordinator"): its own Ed25519 signing key and every node's public signing key
    /// by name, both obtained outside the coordinator. Ids follow the coordinator's rule (1 + the
    /// position of the name among all names, sorted), so a node checks the id it is assigned.
    public struct Identity: Sendable {
        /// This node's name among `peers`.
        public let name: String
        /// The 32-byte Ed25519 private seed.
        let seed: [UInt8]
        /// Every node's (this one's included) 32-byte Ed25519 public key, by name.
        public let peers: [String: [UInt8]]

        /// Checks that `peers` holds `name` with the public key of `seed`, and 32-byte keys.
        public init(name: String, seed: [UInt8], peers: [String: [UInt8]]) throws(PrivacyError) {
            guard peers.values.allSatisfy({ $0.count == 32 }) else { throw PrivacyError("secure aggregation peers: every public signing key is 32 bytes") }
            let own = try Ed25519Signer(seed: seed).publicKey
            guard peers[name] == own else {
                throw PrivacyError("secure aggregation peers: '\(name)' is not listed with the public key of this node's signing key")
            }
            self.name = name
            self.seed = seed
            self.peers = peers
        }

        /// The id of `name` among the peers (1 + its position in sorted order).
        public func id(of name: String) -> UInt32? {
            peers.keys.sorted().firstIndex(of: name).map { UInt32($0 + 1) }
        }

        /// The public keys by id.
        var keysByID: [UInt32: [UInt8]] {
            Dictionary(uniqueKeysWithValues: peers.keys.sorted().enumerated().map { (UInt32($0.offset + 1), peers[$0.element]!) })
        }

        /// The public key of a seed (for writing a peers file).
        public static func publicKey(seed: [UInt8]) throws(PrivacyError) -> [UInt8] { try Ed25519Signer(seed: seed).publicKey }
    }

    /// The bytes a node signs for its advertised keys: ASCII `cohort-secagg-v1 keys` ‖ round
    /// (u64) ‖ node (u32) ‖ c_u^PK ‖ s_u^PK.
    static func signedKeys(_ k: PublicKeys, round: UInt64) -> [UInt8] {
        Array("cohort-secagg-v1 keys".utf8) + le(round) + le(k.node) + k.encryptionKey + k.maskingKey
    }

    /// The bytes a node signs for the survivor set it was shown: ASCII `cohort-secagg-v1
    /// survivors` ‖ round (u64) ‖ count (u32) ‖ the ids in increasing order (u32 each).
    static func signedSurvivors(_ survivors: [UInt32], round: UInt64) -> [UInt8] {
        let sorted = survivors.sorted()
        return Array("cohort-secagg-v1 survivors".utf8) + le(round) + le(UInt32(sorted.count)) + sorted.flatMap { le($0) }
    }

    private static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
        (0..<(T.bitWidth / 8)).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) }
    }
}
