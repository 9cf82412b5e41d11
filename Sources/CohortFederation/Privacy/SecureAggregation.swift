import CohortCheckpoint

/// Secure aggregation (Bonawitz et al. 2017, "Practical Secure Aggregation for Privacy-Preserving
/// Machine Learning", the semi-honest protocol with share encryption): the coordinator learns the
/// sum of the surviving nodes' fixed-point vectors modulo 2³² and nothing else, as long as at
/// least `threshold` nodes follow the protocol to the end. Spec: protocols/secure-aggregation.md.
///
/// The state machines here have no networking: `Client` and `Server` exchange the message values
/// below, in four rounds —
/// 1. every node advertises two X25519 public keys (`PublicKeys`); the server relays the roster;
/// 2. every node Shamir-shares its self-mask seed and its masking private key among the roster
///    and sends the shares encrypted to their holders (`ShareKeys`); the server routes them;
/// 3. every node sends its masked vector (`MaskedInput`);
/// 4. every survivor reveals, for each other node, either a share of its self-mask seed (it sent
///    a masked vector) or a share of its masking key (it dropped), never both (`Unmasking`); the
///    server rebuilds what it needs and removes the masks from the sum.
public enum SecureAggregation {
    /// The round's settings, known to every node and the server.
    public struct Parameters: Sendable, Equatable, Codable {
        /// Binds every derived key, nonce and commitment to one round.
        public var round: UInt64
        /// t: the fewest nodes that must remain at every step; also the Shamir threshold.
        public var threshold: Int
        /// Words per input vector.
        public var vectorLength: Int

        public init(round: UInt64, threshold: Int, vectorLength: Int) {
            self.round = round
            self.threshold = threshold
            self.vectorLength = vectorLength
        }

        /// ⌊n/2⌋ + 1: the smallest threshold for which two disjoint sets of nodes cannot both
        /// reach it. The semi-honest protocol only needs t above the number of nodes that may
        /// collude with the coordinator; a majority is the safe default, and what the actively
        /// secure variant of the protocol requires.
        public static func majorityThreshold(nodes: Int) -> Int { nodes / 2 + 1 }

        func validate() throws(SecureAggregationError) {
            guard threshold >= 2 else { throw .invalidMessage("the threshold must be ≥ 2, got \(threshold)") }
            guard vectorLength >= 0 else { throw .invalidMessage("the vector length must be ≥ 0, got \(vectorLength)") }
        }
    }

    /// Step 1, node → server → all: the node's two X25519 public keys.
    public struct PublicKeys: Sendable, Equatable, Codable {
        public var node: UInt32
        /// c_u: agrees the keys that encrypt share bundles.
        public var encryptionKey: [UInt8]
        /// s_u: agrees the pairwise mask seeds.
        public var maskingKey: [UInt8]
        /// Under the consistency round: the node's Ed25519 signature of its keys
        /// (`signedKeys`), which every other node checks against its registered public key.
        public var signature: [UInt8]? = nil

        public init(node: UInt32, encryptionKey: [UInt8], maskingKey: [UInt8], signature: [UInt8]? = nil) {
            self.node = node
            self.encryptionKey = encryptionKey
            self.maskingKey = maskingKey
            self.signature = signature
        }
    }

    /// One share bundle sealed for its recipient (AES-256-GCM); the server only routes it.
    public struct EncryptedShare: Sendable, Equatable, Codable {
        public var from: UInt32
        public var to: UInt32
        public var ciphertext: [UInt8]

        public init(from: UInt32, to: UInt32, ciphertext: [UInt8]) {
            self.from = from
            self.to = to
            self.ciphertext = ciphertext
        }
    }

    /// Step 2, node → server: a commitment to the self-mask seed and one sealed bundle per other
    /// node of the roster.
    public struct ShareKeys: Sendable, Equatable, Codable {
        public var node: UInt32
        /// SHA-256 over a label, the round, the node and its self-mask seed b_u.
        public var selfMaskCommitment: [UInt8]
        public var shares: [EncryptedShare]

        public init(node: UInt32, selfMaskCommitment: [UInt8], shares: [EncryptedShare]) {
            self.node = node
            self.selfMaskCommitment = selfMaskCommitment
            self.shares = shares
        }
    }

    /// Step 3, node → server: y_u = x_u + PRG(b_u) + Σ_{v>u} PRG(s_uv) − Σ_{v<u} PRG(s_uv) mod 2³².
    public struct MaskedInput: Sendable, Equatable, Codable {
        public var node: UInt32
        public var words: [UInt32]

        public init(node: UInt32, words: [UInt32]) {
            self.node = node
            self.words = words
        }
    }

    /// Step 4, node → server: shares of the survivors' self-mask seeds and of the dropped
    /// nodes' masking keys, by the node they belong to.
    public struct Unmasking: Sendable, Equatable, Codable {
        public var node: UInt32
        public var selfMaskShares: [UInt32: ShamirShare]
        public var maskingKeyShares: [UInt32: ShamirShare]

        public init(node: UInt32, selfMaskShares: [UInt32: ShamirShare], maskingKeyShares: [UInt32: ShamirShare]) {
            self.node = node
            self.selfMaskShares = selfMaskShares
            self.maskingKeyShares = maskingKeyShares
        }
    }

    /// The commitment to a self-mask seed: SHA-256("cohort-secagg-v1 self-mask" ‖ round u64 LE ‖
    /// node u32 LE ‖ b_u).
    static func commitment(selfMask: [UInt8], round: UInt64, node: UInt32) -> [UInt8] {
        let h = SHA256()
        h.update(Array("cohort-secagg-v1 self-mask".utf8))
        h.update(KeyDerivation.littleEndianBytes(round))
        h.update(KeyDerivation.littleEndianBytes(node))
        h.update(selfMask)
        return h.finish()
    }

    /// The plaintext of a share bundle from → to: from (u32 LE) ‖ to (u32 LE) ‖ the share of
    /// b_from at x = to ‖ the share of s_from's private key at x = to (each 5 × u64 LE).
    static func bundle(from: UInt32, to: UInt32, selfMask: ShamirShare, maskingKey: ShamirShare) -> [UInt8] {
        var out = KeyDerivation.littleEndianBytes(from) + KeyDerivation.littleEndianBytes(to)
        for v in selfMask.values + maskingKey.values { out += KeyDerivation.littleEndianBytes(v) }
        return out
    }

    static let secretBytes = 32
    static let chunksPerSecret = (secretBytes + ShamirSecretSharing.chunkBytes - 1) / ShamirSecretSharing.chunkBytes
    static let bundleBytes = 8 + 2 * chunksPerSecret * 8

    /// Parses a bundle; nil if its length or ids are wrong.
    static func parseBundle(_ bytes: [UInt8], from: UInt32, to: UInt32) -> (selfMask: ShamirShare, maskingKey: ShamirShare)? {
        guard bytes.count == bundleBytes else { return nil }
        func u64(_ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(bytes[at + $1]) << (8 * $1) } }
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * $1) } }
        guard u32(0) == from, u32(4) == to else { return nil }
        let values = (0..<(2 * chunksPerSecret)).map { u64(8 + 8 * $0) }
        return (ShamirShare(x: to, values: Array(values[..<chunksPerSecret])),
                ShamirShare(x: to, values: Array(values[chunksPerSecret...])))
    }
}
