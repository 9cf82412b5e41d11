import CohortTransport
import Foundation

/// The secure-aggregation messages of a round on the wire (spec: protocols/wire.md and
/// protocols/secure-aggregation.md). Every payload is laid out like MODEL and UPDATE: u32 LE
/// length J, J bytes of JSON header, then a body (only MASKED has one: the masked words, and it
/// is streamed like UPDATE; the others are single frames of a bounded size, `replyLimit`).
/// Byte strings in the JSON are base64. Every message names the secure-aggregation `session`
/// (a round attempt), so a message from an abandoned attempt is never taken for the current one.
public enum SecureAggregationMessages {
    /// In the MODEL header: this node's part in the round's secure aggregation.
    public struct Assignment: Codable, Sendable, Equatable {
        /// The attempt: round << 8 | attempt number. Bound into every key, nonce and commitment.
        public var session: UInt64
        /// The node's id (1-based position of its name among every node the coordinator knows).
        public var node: UInt32
        /// t.
        public var threshold: Int
        /// n: nodes sampled for the round (the fixed-point encoding's number of summands).
        public var participants: Int
        /// Samples of all n participants together, each counted as in `samples` (a node's
        /// weight is its share of them).
        public var totalSamples: Int
        /// The samples this node's update counts with: its announced count, capped at its
        /// expected count in the coordinator's secrets file. Nil (a coordinator before this
        /// field): the node's own count.
        public var samples: Int?

        public init(session: UInt64, node: UInt32, threshold: Int, participants: Int, totalSamples: Int, samples: Int? = nil) {
            self.session = session; self.node = node; self.threshold = threshold
            self.participants = participants; self.totalSamples = totalSamples; self.samples = samples
        }

        /// The protocol parameters of this attempt for vectors of `length` words.
        public func parameters(length: Int) -> SecureAggregation.Parameters {
            SecureAggregation.Parameters(round: session, threshold: threshold, vectorLength: length)
        }
    }

    /// A node's public keys in the roster.
    public struct Keys: Codable, Sendable {
        public var node: UInt32
        public var encryptionKey: Data
        public var maskingKey: Data
        /// Under the consistency round: the node's signature of its keys (absent otherwise).
        public var signature: Data?
        public init(_ k: SecureAggregation.PublicKeys) {
            node = k.node; encryptionKey = Data(k.encryptionKey); maskingKey = Data(k.maskingKey); signature = k.signature.map { Data($0) }
        }
        public var value: SecureAggregation.PublicKeys {
            .init(node: node, encryptionKey: Array(encryptionKey), maskingKey: Array(maskingKey), signature: signature.map { Array($0) })
        }
    }

    /// SECAGG_KEYS, node → coordinator (step 1).
    public struct KeysMessage: Codable, Sendable {
        public var session: UInt64
        public var keys: Keys
        public init(session: UInt64, keys: Keys) { self.session = session; self.keys = keys }
    }
    /// SECAGG_ROSTER, coordinator → node: every node's keys (U₁).
    public struct RosterMessage: Codable, Sendable {
        public var session: UInt64
        public var roster: [Keys]
        public init(session: UInt64, roster: [Keys]) { self.session = session; self.roster = roster }
    }

    /// A sealed share bundle.
    public struct Bundle: Codable, Sendable {
        public var from: UInt32
        public var to: UInt32
        public var ciphertext: Data
        public init(_ s: SecureAggregation.EncryptedShare) { from = s.from; to = s.to; ciphertext = Data(s.ciphertext) }
        public var value: SecureAggregation.EncryptedShare { .init(from: from, to: to, ciphertext: Array(ciphertext)) }
    }

    /// SECAGG_SHARES, node → coordinator (step 2).
    public struct SharesMessage: Codable, Sendable {
        public var session: UInt64
        public var node: UInt32
        public var commitment: Data
        public var bundles: [Bundle]
        public init(session: UInt64, _ m: SecureAggregation.ShareKeys) {
            self.session = session; node = m.node; commitment = Data(m.selfMaskCommitment); bundles = m.shares.map(Bundle.init)
        }
        public var value: SecureAggregation.ShareKeys { .init(node: node, selfMaskCommitment: Array(commitment), shares: bundles.map(\.value)) }
    }

    /// SECAGG_BUNDLES, coordinator → node: the bundles addressed to it from U₂.
    public struct BundlesMessage: Codable, Sendable {
        public var session: UInt64
        public var bundles: [Bundle]
        public init(session: UInt64, bundles: [Bundle]) { self.session = session; self.bundles = bundles }
    }

    /// SECAGG_MASKED header, node → coordinator (step 3); the body is the masked words, u32 LE.
    /// `metrics` hold only what the node measured on the model it *received* (never anything
    /// about its update).
    public struct MaskedHeader: Codable, Sendable {
        public var session: UInt64
        public var node: UInt32
        public var round: Int
        public var modelVersion: Int
        public var samples: Int
        public var metrics: [String: Double]
        public init(session: UInt64, node: UInt32, round: Int, modelVersion: Int, samples: Int, metrics: [String: Double]) {
            self.session = session; self.node = node; self.round = round; self.modelVersion = modelVersion
            self.samples = samples; self.metrics = metrics
        }
    }

    /// SECAGG_SURVIVORS, coordinator → node: U₃. Under the consistency round it is sent twice:
    /// first without `signatures` (each node signs the set and answers SECAGG_SIGNATURE), then
    /// with the signatures collected (each node checks them and answers SECAGG_UNMASK).
    public struct SurvivorsMessage: Codable, Sendable {
        public var session: UInt64
        public var survivors: [UInt32]
        public var signatures: [SignatureMessage]?
        public init(session: UInt64, survivors: [UInt32], signatures: [SignatureMessage]? = nil) {
            self.session = session; self.survivors = survivors; self.signatures = signatures
        }
    }

    /// SECAGG_SIGNATURE, node → coordinator (consistency round): the node's Ed25519 signature
    /// of the survivor set it was shown (`SecureAggregation.signedSurvivors`).
    public struct SignatureMessage: Codable, Sendable {
        public var session: UInt64
        public var node: UInt32
        public var signature: Data
        public init(session: UInt64, node: UInt32, signature: [UInt8]) { self.session = session; self.node = node; self.signature = Data(signature) }
    }

    /// One revealed share: of node `of`'s secret, at the sender's point.
    public struct RevealedShare: Codable, Sendable {
        public var of: UInt32
        public var x: UInt32
        public var values: [UInt64]
    }

    /// SECAGG_UNMASK, node → coordinator (step 4).
    public struct UnmaskMessage: Codable, Sendable {
        public var session: UInt64
        public var node: UInt32
        public var selfMaskShares: [RevealedShare]
        public var maskingKeyShares: [RevealedShare]
        public init(session: UInt64, _ m: SecureAggregation.Unmasking) {
            self.session = session
            node = m.node
            selfMaskShares = m.selfMaskShares.keys.sorted().map { RevealedShare(of: $0, x: m.selfMaskShares[$0]!.x, values: m.selfMaskShares[$0]!.values) }
            maskingKeyShares = m.maskingKeyShares.keys.sorted().map { RevealedShare(of: $0, x: m.maskingKeyShares[$0]!.x, values: m.maskingKeyShares[$0]!.values) }
        }
        public func value() throws -> SecureAggregation.Unmasking {
            func table(_ list: [RevealedShare]) throws -> [UInt32: ShamirShare] {
                var out: [UInt32: ShamirShare] = [:]
                for s in list {
                    guard out.updateValue(ShamirShare(x: s.x, values: s.values), forKey: s.of) == nil else {
                        throw AggregationError("secure aggregation: node \(node) reveals two shares of node \(s.of)")
                    }
                }
                return out
            }
            return .init(node: node, selfMaskShares: try table(selfMaskShares), maskingKeyShares: try table(maskingKeyShares))
        }
    }

    /// SECAGG_ABORT, coordinator → node: the attempt is abandoned; nothing more will be asked.
    public struct AbortMessage: Codable, Sendable {
        public var session: UInt64
        public var reason: String
        public init(session: UInt64, reason: String) { self.session = session; self.reason = reason }
    }

    /// Why a node leaves an attempt: a fixed code, never free text (an error's text could carry
    /// data-dependent figures such as a loss value, and is neither noised nor accounted).
    public enum LeaveReason: String, Codable, Sendable, CaseIterable {
        /// Local training failed (e.g. the loss became non-finite).
        case trainingFailed = "training_failed"
        /// The trained update could not be clipped or encoded for masking.
        case encodingFailed = "encoding_failed"
    }

    /// SECAGG_LEAVE, node → coordinator, in place of its reply at a step: the node cannot finish
    /// the attempt (e.g. its training failed) and leaves it; it stays connected for later rounds.
    /// It carries only a `LeaveReason` code: a LEAVE with any other reason is malformed.
    public struct LeaveMessage: Codable, Sendable {
        public var session: UInt64
        public var reason: LeaveReason
        public init(session: UInt64, reason: LeaveReason) { self.session = session; self.reason = reason }
    }

    /// The longest reason an ABORT carries (longer ones are cut).
    public static let maxReasonLength = 1000

    /// Any secure-aggregation header, read only for its session (to recognise a stale message).
    public struct SessionOnly: Decodable, Sendable { public var session: UInt64 }

    /// The largest payload a coordinator accepts for a node's single-frame reply of `type` in a
    /// round of `nodes` participants (the masked input is streamed: `maskedBudget`). Refused
    /// from the frame header, before the payload is read.
    public static func replyLimit(_ type: MessageType, nodes: Int) -> Int {
        switch type {
        case .secaggShares, .secaggUnmask: return (16 << 10) + 512 * max(nodes, 1)   // one ~180-byte bundle or ~130-byte share per node
        default: return 4 << 10                                                       // keys, LEAVE, a streamed message's start
        }
    }

    /// The largest JSON header of a masked input (its metrics hold only data-independent figures).
    public static let maxMaskedHeaderBytes = 64 << 10

    /// The exact most a masked input of `length` words may hold: its 4·L body, the u32 header
    /// length and the largest header.
    public static func maskedBudget(length: Int) -> Int { 4 * length + 4 + maxMaskedHeaderBytes }

    /// SECAGG_MASKED as a streamed message: the header, then the words (u32 LE).
    public static func maskedMessage(_ header: MaskedHeader, words: [UInt32], chunkSize: Int = StreamedMessage.defaultChunkSize) throws -> StreamedMessage {
        let json = Array(try JSONEncoder().encode(header))
        guard json.count <= maxMaskedHeaderBytes else { throw AggregationError("masked input header of \(json.count) bytes, over \(maxMaskedHeaderBytes)") }
        return StreamedMessage(type: MessageType.secaggMasked.rawValue, segments: [.bytes(RoundMessages.headerLength(json.count) + json), .bytes(body(words))],
                               chunkSize: chunkSize)
    }

    /// A frame of `type` holding `header` and `body`.
    public static func frame<H: Encodable>(_ type: MessageType, _ header: H, body: [UInt8] = []) throws -> Frame {
        Frame(version: ProtocolVersion.current, type: type.rawValue, payload: try RoundMessages.payload(header, body: body))
    }

    /// The header of a secure-aggregation frame, which must have no body, for `session`.
    public static func parse<H: Decodable & SessionBound>(_ frame: Frame, as: H.Type, session: UInt64) throws -> H {
        let (header, body) = try RoundMessages.parse(frame.payload, as: H.self)
        guard body.isEmpty else { throw AggregationError("\(H.self) carries \(body.count) unexpected bytes after its header") }
        guard header.session == session else { throw AggregationError("\(H.self) for secure-aggregation session \(header.session), expected \(session)") }
        return header
    }

    /// Masked words as the body bytes (u32 LE).
    public static func body(_ words: [UInt32]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: words.count * 4)
        out.withUnsafeMutableBytes { raw in
            for (i, w) in words.enumerated() { raw.storeBytes(of: w.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
        }
        return out
    }

    /// Masked words from body bytes; exactly `length` of them.
    public static func words(_ body: [UInt8], length: Int) throws -> [UInt32] {
        guard body.count == 4 * length else {
            throw AggregationError("masked input of \(body.count) bytes, expected \(length) words (\(4 * length) bytes)")
        }
        return body.withUnsafeBytes { raw in (0..<length).map { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) } }
    }
}

/// Secure-aggregation headers name their session.
public protocol SessionBound { var session: UInt64 { get } }
extension SecureAggregationMessages.KeysMessage: SessionBound {}
extension SecureAggregationMessages.RosterMessage: SessionBound {}
extension SecureAggregationMessages.SharesMessage: SessionBound {}
extension SecureAggregationMessages.BundlesMessage: SessionBound {}
extension SecureAggregationMessages.MaskedHeader: SessionBound {}
extension SecureAggregationMessages.SurvivorsMessage: SessionBound {}
extension SecureAggregationMessages.SignatureMessage: SessionBound {}
extension SecureAggregationMessages.UnmaskMessage: SessionBound {}
extension SecureAggregationMessages.AbortMessage: SessionBound {}
extension SecureAggregationMessages.LeaveMessage: SessionBound {}
