extension SecureAggregation {
    /// The coordinator's side of a secure-aggregation round: collects each step's messages,
    /// closes the step (`finish…`), and in the end returns the sum of the survivors' inputs
    /// modulo 2³². Masked vectors are folded into one running sum as they arrive, so memory is
    /// one vector whatever the number of nodes.
    ///
    /// Every `finish…` throws `belowThreshold` when fewer than t nodes completed the step. Up to
    /// `finishMasking` the round is then abandoned before anything that could unmask an input is
    /// asked for; `finishUnmasking` fails after the survivors were announced (the release point
    /// of protocols/privacy.md), when too few or inconsistent shares came back.
    public final class Server {
        public let parameters: Parameters

        private enum Stage { case advertising, sharing, masking, unmasking, done }
        private var stage = Stage.advertising
        private var keys: [UInt32: PublicKeys] = [:]
        private var commitments: [UInt32: [UInt8]] = [:]
        private var mailbox: [UInt32: [EncryptedShare]] = [:]
        private var u2: Set<UInt32> = []
        private var u3: Set<UInt32> = []
        private var sum: [UInt32]
        private var responses: [UInt32: Unmasking] = [:]

        public init(parameters: Parameters) throws(SecureAggregationError) {
            try parameters.validate()
            self.parameters = parameters
            sum = [UInt32](repeating: 0, count: parameters.vectorLength)
        }

        /// U₃: the nodes whose masked input is in the sum (after `finishMasking`).
        public var survivors: [UInt32] { u3.sorted() }

        // MARK: step 1

        /// A node's public keys. Rejects repeated nodes, reused keys, and keys X25519 cannot
        /// agree with (malformed or of small order), so one bad node cannot stall the others.
        public func receive(_ m: PublicKeys) throws(SecureAggregationError) {
            try expect(.advertising, "public keys")
            guard m.node >= 1, keys[m.node] == nil else { throw .invalidMessage("public keys from node \(m.node) are repeated or it has id 0") }
            guard m.encryptionKey != m.maskingKey,
                  !keys.values.contains(where: { [$0.encryptionKey, $0.maskingKey].contains(m.encryptionKey) || [$0.encryptionKey, $0.maskingKey].contains(m.maskingKey) }) else {
                throw .invalidMessage("node \(m.node) advertises a public key already in use")
            }
            let probe = X25519KeyPair.generate(random: .system())
            do {
                _ = try probe.sharedSecret(with: m.encryptionKey)
                _ = try probe.sharedSecret(with: m.maskingKey)
            } catch {
                throw .invalidMessage("node \(m.node) advertises an unusable X25519 key: \(error)")
            }
            keys[m.node] = m
        }

        /// Closes step 1: the roster (U₁, sorted by node) to relay to every node in it.
        public func finishAdvertising() throws(SecureAggregationError) -> [PublicKeys] {
            try expect(.advertising, "close key advertising")
            guard keys.count >= parameters.threshold else {
                throw .belowThreshold(stage: "key advertising", nodes: keys.count, threshold: parameters.threshold)
            }
            stage = .sharing
            return keys.keys.sorted().map { keys[$0]! }
        }

        // MARK: step 2

        /// A node's sealed share bundles: exactly one for each other roster node.
        public func receive(_ m: ShareKeys) throws(SecureAggregationError) {
            try expect(.sharing, "share bundles")
            guard keys[m.node] != nil, commitments[m.node] == nil else {
                throw .invalidMessage("share bundles from node \(m.node), which is not in the roster or already sent them")
            }
            guard m.selfMaskCommitment.count == 32 else { throw .invalidMessage("node \(m.node)'s commitment is not 32 bytes") }
            let recipients = m.shares.map(\.to)
            guard m.shares.allSatisfy({ $0.from == m.node && $0.ciphertext.count == SecureAggregation.bundleBytes + ShareCipher.tagBytes }),
                  Set(recipients).count == recipients.count, Set(recipients) == Set(keys.keys).subtracting([m.node]) else {
                throw .invalidMessage("node \(m.node) must send one well-formed bundle to each other roster node")
            }
            commitments[m.node] = m.selfMaskCommitment
            for s in m.shares { mailbox[s.to, default: []].append(s) }
        }

        /// Closes step 2: U₂, the nodes that shared (sorted). Bundles from nodes outside U₂ were
        /// never accepted; bundles to nodes outside U₂ are dropped.
        public func finishSharing() throws(SecureAggregationError) -> [UInt32] {
            try expect(.sharing, "close key sharing")
            guard commitments.count >= parameters.threshold else {
                throw .belowThreshold(stage: "key sharing", nodes: commitments.count, threshold: parameters.threshold)
            }
            u2 = Set(commitments.keys)
            mailbox = mailbox.filter { u2.contains($0.key) }
            stage = .masking
            return u2.sorted()
        }

        /// The bundles to hand node `node` ∈ U₂ for step 3.
        public func shares(for node: UInt32) throws(SecureAggregationError) -> [EncryptedShare] {
            guard stage == .masking, u2.contains(node) else { throw .invalidMessage("no bundles for node \(node) at this step") }
            return (mailbox[node] ?? []).sorted { $0.from < $1.from }
        }

        // MARK: step 3

        /// A node's masked vector, folded into the running sum.
        public func receive(_ m: MaskedInput) throws(SecureAggregationError) {
            try expect(.masking, "masked input")
            guard u2.contains(m.node), !u3.contains(m.node) else {
                throw .invalidMessage("masked input from node \(m.node), which did not share keys or already sent it")
            }
            guard m.words.count == parameters.vectorLength else {
                throw .invalidMessage("node \(m.node)'s masked input has \(m.words.count) words, the round expects \(parameters.vectorLength)")
            }
            sum.withUnsafeMutableBufferPointer { s in
                m.words.withUnsafeBufferPointer { w in for i in 0..<s.count { s[i] &+= w[i] } }
            }
            u3.insert(m.node)
        }

        /// Closes step 3: U₃, the survivors (sorted), to send to each of them for step 4.
        public func finishMasking() throws(SecureAggregationError) -> [UInt32] {
            try expect(.masking, "close masking")
            guard u3.count >= parameters.threshold else {
                stage = .done
                throw .belowThreshold(stage: "masked input", nodes: u3.count, threshold: parameters.threshold)
            }
            mailbox = [:]
            stage = .unmasking
            return u3.sorted()
        }

        // MARK: step 4

        /// A survivor's revealed shares: one self-mask share for every survivor and one masking-key
        /// share for every node of U₂ that dropped, each at the sender's point.
        public func receive(_ m: Unmasking) throws(SecureAggregationError) {
            try expect(.unmasking, "unmasking shares")
            guard u3.contains(m.node), responses[m.node] == nil else {
                throw .invalidMessage("unmasking shares from node \(m.node), which is not a survivor or already sent them")
            }
            guard Set(m.selfMaskShares.keys) == u3, Set(m.maskingKeyShares.keys) == u2.subtracting(u3) else {
                throw .invalidMessage("node \(m.node) must reveal self-mask shares of exactly the survivors and key shares of exactly the dropped nodes")
            }
            let all = Array(m.selfMaskShares.values) + Array(m.maskingKeyShares.values)
            guard all.allSatisfy({ $0.x == m.node && $0.values.count == SecureAggregation.chunksPerSecret }) else {
                throw .invalidMessage("node \(m.node) reveals shares that are not its own or are malformed")
            }
            responses[m.node] = m
        }

        /// Closes the round: rebuilds each survivor's self-mask seed (checked against its
        /// commitment) and each dropped node's masking key (checked against its public key),
        /// removes every mask, and returns the survivors' sum modulo 2³². Needs t responses.
        public func finishUnmasking() throws(SecureAggregationError) -> [UInt32] {
            try expect(.unmasking, "finish")
            stage = .done
            guard responses.count >= parameters.threshold else {
                throw .belowThreshold(stage: "unmasking", nodes: responses.count, threshold: parameters.threshold)
            }
            let shamir = ShamirSecretSharing(threshold: parameters.threshold)
            let responders = responses.keys.sorted()
            var result = sum
            for u in u3.sorted() {
                let b = try rebuild(u, shamir: shamir, responders.map { responses[$0]!.selfMaskShares[u]! })
                guard SecureAggregation.commitment(selfMask: b, round: parameters.round, node: u) == commitments[u] else {
                    throw .badShares(node: u, reason: "the rebuilt self-mask seed does not match its commitment")
                }
                MaskGenerator(seed: b).subtract(from: &result)
            }
            for d in u2.subtracting(u3).sorted() {
                let secret = try rebuild(d, shamir: shamir, responders.map { responses[$0]!.maskingKeyShares[d]! })
                let key: X25519KeyPair
                do { key = try X25519KeyPair(privateKey: secret) } catch { throw .badShares(node: d, reason: "\(error)") }
                guard key.publicKey == keys[d]!.maskingKey else {
                    throw .badShares(node: d, reason: "the rebuilt masking key does not match its public key")
                }
                for u in u3.sorted() {
                    let shared: [UInt8]
                    do { shared = try key.sharedSecret(with: keys[u]!.maskingKey) } catch { throw .badShares(node: d, reason: "\(error)") }
                    let seed = KeyDerivation.pairSecret(sharedSecret: shared, purpose: .pairwiseMask, round: parameters.round, d, u)
                    // u added +PRG(s_ud) when d > u and −PRG(s_ud) when d < u: undo it.
                    if d > u { MaskGenerator(seed: seed).subtract(from: &result) } else { MaskGenerator(seed: seed).add(to: &result) }
                }
            }
            return result
        }

        private func rebuild(_ node: UInt32, shamir: ShamirSecretSharing, _ shares: [ShamirShare]) throws(SecureAggregationError) -> [UInt8] {
            do { return try shamir.reconstruct(shares, length: SecureAggregation.secretBytes) } catch {
                throw .badShares(node: node, reason: error.description)
            }
        }

        private func expect(_ s: Stage, _ what: String) throws(SecureAggregationError) {
            guard stage == s else { throw .invalidMessage("the server cannot take \(what) now (at step \(stage))") }
        }
    }
}
