extension SecureAggregation {
    /// One node's side of a secure-aggregation round. Call the four steps in order, once each;
    /// a step out of order, or a message that breaks the protocol, throws and ends the node's
    /// part in the round.
    ///
    /// The node refuses to reveal anything in step 4 unless the survivor list has at least t
    /// nodes, includes itself, and only names nodes that shared keys with it; for every other
    /// node it reveals the share of the self-mask seed or of the masking key, never both.
    ///
    /// With an `Identity` (the consistency round against a malicious coordinator) it also signs
    /// its keys, accepts only a roster whose every entry is signed by that node's registered key,
    /// signs the survivor set it is shown (`signSurvivors`, once), and reveals only when given at
    /// least t valid signatures of survivors on that same set (`unmask(survivors:signatures:)`).
    public final class Client {
        /// This node's id in the round (≥ 1; also its Shamir evaluation point).
        public let node: UInt32
        public let parameters: Parameters

        private enum Stage { case created, advertised, shared, masked, signed, done }
        private var stage = Stage.created
        private let random: CryptoRandom
        private let encryptionKeys: X25519KeyPair
        private let maskingKeys: X25519KeyPair
        private var roster: [UInt32: PublicKeys] = [:]
        private var selfMask: [UInt8] = []
        private var ownShares: (selfMask: ShamirShare, maskingKey: ShamirShare)?
        private var held: [UInt32: (selfMask: ShamirShare, maskingKey: ShamirShare)] = [:]
        private var bundleKeys: [UInt32: [UInt8]] = [:]
        private let signer: Ed25519Signer?
        private let peerKeys: [UInt32: [UInt8]]
        private var signedSet: [UInt32] = []

        /// Whether this node runs the consistency round (it was given an `Identity`).
        public var checksConsistency: Bool { signer != nil }

        /// A node for one round. Keys, the self-mask seed and share coefficients come from
        /// `random`: `CryptoRandom.system()` for real runs, a seeded one for reproducible tests.
        ///
        /// With `identity`, `node` must be the id its peers give this node's name.
        public init(node: UInt32, parameters: Parameters, random: CryptoRandom, identity: Identity? = nil) throws(SecureAggregationError) {
            try parameters.validate()
            guard node >= 1 else { throw .invalidMessage("node ids start at 1, got \(node)") }
            if let identity {
                guard identity.id(of: identity.name) == node else {
                    throw .invalidMessage("assigned id \(node), but '\(identity.name)' is node \(identity.id(of: identity.name) ?? 0) among its peers")
                }
                do { signer = try Ed25519Signer(seed: identity.seed) } catch { throw .invalidMessage("\(error)") }
                peerKeys = identity.keysByID
            } else {
                signer = nil
                peerKeys = [:]
            }
            self.node = node
            self.parameters = parameters
            self.random = random
            encryptionKeys = X25519KeyPair.generate(random: random)
            maskingKeys = X25519KeyPair.generate(random: random)
        }

        /// Step 1: the two public keys to advertise.
        public func advertiseKeys() throws(SecureAggregationError) -> PublicKeys {
            try expect(.created, "advertise keys")
            stage = .advertised
            var keys = PublicKeys(node: node, encryptionKey: encryptionKeys.publicKey, maskingKey: maskingKeys.publicKey)
            if let signer { keys.signature = try sign(SecureAggregation.signedKeys(keys, round: parameters.round), signer) }
            return keys
        }

        /// Step 2: given the roster the server relayed (every node's keys, this node's included),
        /// draws the self-mask seed, shares it and the masking private key t-of-n over the roster
        /// and seals each other node's bundle for it.
        public func shareKeys(roster list: [PublicKeys]) throws(SecureAggregationError) -> ShareKeys {
            try expect(.advertised, "share keys")
            var byNode: [UInt32: PublicKeys] = [:]
            for k in list {
                guard k.node >= 1, byNode.updateValue(k, forKey: k.node) == nil else {
                    throw .invalidMessage("the roster names node \(k.node) twice or has node 0")
                }
                guard k.encryptionKey.count == 32, k.maskingKey.count == 32 else {
                    throw .invalidMessage("node \(k.node)'s public keys are not 32 bytes each")
                }
            }
            guard let mine = byNode[node], mine.encryptionKey == encryptionKeys.publicKey, mine.maskingKey == maskingKeys.publicKey else {
                throw .invalidMessage("the roster does not carry node \(node)'s own keys")
            }
            guard byNode.count >= parameters.threshold else {
                throw .belowThreshold(stage: "key sharing", nodes: byNode.count, threshold: parameters.threshold)
            }
            if signer != nil {
                // Whatever the plan allows: two disjoint groups of t in this roster could each
                // rebuild secrets, so under the consistency round t must be a majority of U₁.
                guard 2 * parameters.threshold > byNode.count else {
                    throw .inconsistentSurvivors("t = \(parameters.threshold) is not a majority of the \(byNode.count) nodes in the roster; node \(node) shares nothing")
                }
                for k in byNode.values {
                    guard let key = peerKeys[k.node], let signature = k.signature,
                          Ed25519Signer.verify(signature, of: SecureAggregation.signedKeys(k, round: parameters.round), publicKey: key) else {
                        throw .invalidMessage("node \(k.node)'s keys in the roster are not signed by its registered signing key")
                    }
                }
            }
            roster = byNode
            selfMask = random.bytes(SecureAggregation.secretBytes)
            let xs = byNode.keys.sorted()
            let shamir = ShamirSecretSharing(threshold: parameters.threshold)
            let selfMaskShares = shamir.share(selfMask, at: xs, random: random)
            let keyShares = shamir.share(maskingKeys.privateKey, at: xs, random: random)
            var sealed: [EncryptedShare] = []
            for (i, v) in xs.enumerated() {
                if v == node { ownShares = (selfMaskShares[i], keyShares[i]); continue }
                let key = try pairKey(with: v, purpose: .shareEncryption)
                bundleKeys[v] = key
                let plain = SecureAggregation.bundle(from: node, to: v, selfMask: selfMaskShares[i], maskingKey: keyShares[i])
                sealed.append(EncryptedShare(from: node, to: v,
                                             ciphertext: ShareCipher.seal(plain, key: key, round: parameters.round, from: node, to: v)))
            }
            stage = .shared
            return ShareKeys(node: node, selfMaskCommitment: SecureAggregation.commitment(selfMask: selfMask, round: parameters.round, node: node),
                             shares: sealed)
        }

        /// Step 3: opens the bundles addressed to this node (their senders are the nodes that
        /// completed step 2, U₂) and masks `input` (fixed-point words, `vectorLength` of them):
        /// y = x + PRG(b_u) + Σ_{v∈U₂, v>u} PRG(s_uv) − Σ_{v∈U₂, v<u} PRG(s_uv)  (mod 2³²).
        public func maskInput(_ input: [UInt32], shares: [EncryptedShare]) throws(SecureAggregationError) -> MaskedInput {
            try expect(.shared, "mask the input")
            guard input.count == parameters.vectorLength else {
                throw .invalidMessage("the input has \(input.count) words, the round expects \(parameters.vectorLength)")
            }
            var opened: [UInt32: (selfMask: ShamirShare, maskingKey: ShamirShare)] = [:]
            for s in shares {
                guard s.to == node, s.from != node, roster[s.from] != nil, opened[s.from] == nil else {
                    throw .invalidMessage("node \(node) was handed a bundle \(s.from) → \(s.to) that is not its own or repeats")
                }
                guard let key = bundleKeys[s.from] else { throw .invalidMessage("no bundle key for node \(s.from)") }
                guard let plain = ShareCipher.open(s.ciphertext, key: key, round: parameters.round, from: s.from, to: node),
                      let parsed = SecureAggregation.parseBundle(plain, from: s.from, to: node) else {
                    throw .invalidMessage("the bundle from node \(s.from) to node \(node) fails authentication")
                }
                opened[s.from] = parsed
            }
            guard opened.count + 1 >= parameters.threshold else {
                throw .belowThreshold(stage: "masking", nodes: opened.count + 1, threshold: parameters.threshold)
            }
            held = opened
            var y = input
            MaskGenerator(seed: selfMask).add(to: &y)
            for v in opened.keys.sorted() {
                let seed = try pairKey(with: v, purpose: .pairwiseMask)
                if v > node { MaskGenerator(seed: seed).add(to: &y) } else { MaskGenerator(seed: seed).subtract(from: &y) }
            }
            stage = .masked
            return MaskedInput(node: node, words: y)
        }

        /// Step 4: given the survivors (the nodes whose masked input the server holds, U₃),
        /// reveals the share of each survivor's self-mask seed and of each dropped node's masking
        /// key. Refuses (throws) when U₃ has fewer than t nodes, omits this node, or names a node
        /// that did not share keys with it; and always for a node with an `Identity`, which
        /// reveals only through `unmask(survivors:signatures:)`.
        public func unmask(survivors: [UInt32]) throws(SecureAggregationError) -> Unmasking {
            try expect(.masked, "unmask")
            guard signer == nil else {
                throw .inconsistentSurvivors("node \(node) reveals only after the consistency round (signed survivor sets)")
            }
            return try reveal(try checkSurvivors(survivors))
        }

        /// The consistency round, first half: checks the survivor set U₃ as `unmask` does and
        /// signs it (`signedSurvivors`). Once per round: a node never signs two sets.
        public func signSurvivors(_ survivors: [UInt32]) throws(SecureAggregationError) -> [UInt8] {
            try expect(.masked, "sign the survivors")
            guard let signer else { throw .invalidMessage("node \(node) has no signing key for the consistency round") }
            let u3 = try checkSurvivors(survivors)
            signedSet = u3.sorted()
            stage = .signed
            return try sign(SecureAggregation.signedSurvivors(signedSet, round: parameters.round), signer)
        }

        /// The consistency round, second half: reveals as `unmask` does, only if `survivors` is
        /// the set this node signed and `signatures` hold at least t valid signatures of that set
        /// by distinct members of it under their registered keys. Otherwise throws
        /// `inconsistentSurvivors` and reveals nothing (the node is done with the round either way).
        public func unmask(survivors: [UInt32], signatures: [UInt32: [UInt8]]) throws(SecureAggregationError) -> Unmasking {
            try expect(.signed, "unmask")
            stage = .done
            guard survivors.sorted() == signedSet else {
                throw .inconsistentSurvivors("node \(node) signed the survivors \(signedSet) and is asked to reveal for \(survivors.sorted())")
            }
            let message = SecureAggregation.signedSurvivors(signedSet, round: parameters.round)
            let valid = signatures.filter { v, signature in
                signedSet.contains(v) && peerKeys[v].map { Ed25519Signer.verify(signature, of: message, publicKey: $0) } == true
            }
            guard valid.count >= parameters.threshold else {
                throw .inconsistentSurvivors("\(valid.count) valid signature(s) of the survivor set \(signedSet) (of \(signatures.count) given), fewer than t = \(parameters.threshold)")
            }
            return try reveal(Set(signedSet))
        }

        /// U₃ as a set, after the checks every reveal needs.
        private func checkSurvivors(_ survivors: [UInt32]) throws(SecureAggregationError) -> Set<UInt32> {
            let u3 = Set(survivors)
            guard u3.count == survivors.count else { throw .invalidMessage("the survivor list repeats a node") }
            guard u3.count >= parameters.threshold else {
                throw .belowThreshold(stage: "unmasking", nodes: u3.count, threshold: parameters.threshold)
            }
            guard u3.contains(node), u3.allSatisfy({ $0 == node || held[$0] != nil }) else {
                throw .invalidMessage("the survivor list names nodes that did not share keys with node \(node), or leaves it out")
            }
            return u3
        }

        /// The shares for survivor set `u3`: self-mask shares of survivors, key shares of the others.
        private func reveal(_ u3: Set<UInt32>) throws(SecureAggregationError) -> Unmasking {
            guard let own = ownShares else { throw .invalidMessage("node \(node) holds no shares of its own (step 2 did not run)") }
            var selfMaskShares: [UInt32: ShamirShare] = [node: own.selfMask]
            var keyShares: [UInt32: ShamirShare] = [:]
            for (v, s) in held {
                if u3.contains(v) { selfMaskShares[v] = s.selfMask } else { keyShares[v] = s.maskingKey }
            }
            stage = .done
            return Unmasking(node: node, selfMaskShares: selfMaskShares, maskingKeyShares: keyShares)
        }

        private func sign(_ message: [UInt8], _ signer: Ed25519Signer) throws(SecureAggregationError) -> [UInt8] {
            do { return try signer.sign(message) } catch { throw .invalidMessage("\(error)") }
        }

        private func expect(_ s: Stage, _ what: String) throws(SecureAggregationError) {
            guard stage == s else { throw .invalidMessage("node \(node) cannot \(what) now (at step \(stage))") }
        }

        private func pairKey(with v: UInt32, purpose: KeyDerivation.Purpose) throws(SecureAggregationError) -> [UInt8] {
            guard let keys = roster[v] else { throw .invalidMessage("node \(v) is not in the roster") }
            let mine = purpose == .pairwiseMask ? maskingKeys : encryptionKeys
            let theirs = purpose == .pairwiseMask ? keys.maskingKey : keys.encryptionKey
            do {
                let secret = try mine.sharedSecret(with: theirs)
                return KeyDerivation.pairSecret(sharedSecret: secret, purpose: purpose, round: parameters.round, node, v)
            } catch {
                throw .invalidMessage("key agreement with node \(v) failed: \(error)")
            }
        }
    }
}
