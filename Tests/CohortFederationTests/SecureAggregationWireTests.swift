import XCTest
import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTensor
import CohortTransport
import Foundation

/// The pieces secure aggregation adds to rounds: the plan section and its validation, the
/// update encoding both sides derive (layout, clipping, weights, distributed noise), and the
/// SECAGG_* messages.
final class SecureAggregationWireTests: XCTestCase {
    private let spec = ModelSpec(inputShape: [4], layers: [
        LayerSpec(.dense, name: "features.0", units: 8), LayerSpec(.batchnorm1d, name: "features.1"), LayerSpec(.relu, name: "features.2"),
        LayerSpec(.dense, name: "head", units: 3),
    ])

    private func plan(_ json: String) throws -> TrainingPlan { try JSONDecoder().decode(TrainingPlan.self, from: Data(json.utf8)) }

    func testPlanSectionDecodesWithDefaultsAndRefusesWhatMasksCannotCombine() throws {
        let p = try plan(#"{"secureAggregation":{}}"#)
        XCTAssertEqual(p.secureAggregation, SecureAggregationPlan(threshold: nil, clipNorm: 10))
        XCTAssertNoThrow(try p.validate())
        XCTAssertEqual(p.secureAggregation?.threshold(participants: 5), 3)
        XCTAssertEqual(p.secureAggregation?.threshold(participants: 2), 2)
        XCTAssertEqual(p.secureAggregation?.threshold(participants: 1), 2, "never below 2")
        XCTAssertEqual(try plan(#"{"secureAggregation":{"threshold":4}}"#).secureAggregation?.threshold(participants: 9), 4)
        XCTAssertEqual(try JSONDecoder().decode(TrainingPlan.self, from: JSONEncoder().encode(p)), p, "round trip")
        for (json, expected) in [
            (#"{"secureAggregation":{"threshold":1}}"#, "secureAggregation.threshold must be ≥ 2"),
            (#"{"secureAggregation":{"clipNorm":0}}"#, "secureAggregation.clipNorm must be positive"),
            (#"{"secureAggregation":{},"codec":{"topKFraction":0.1,"quantization":{"none":{}}}}"#, "cannot be combined with codec.topKFraction"),
            (#"{"secureAggregation":{},"codec":{"quantization":{"int8":{"blockSize":64}}}}"#, "replaces codec.quantization and codec.zlibLevel"),
            (#"{"secureAggregation":{},"codec":{"zlibLevel":1,"quantization":{"none":{}}}}"#, "replaces codec.quantization and codec.zlibLevel"),
            (#"{"secureAggregation":{},"strategy":"fedadam"}"#, "secureAggregation needs strategy fedavg, fedprox or fedbn"),
            (#"{"privacy":{"noiseMultiplier":1,"mode":"distributed"}}"#, "privacy.mode distributed needs secureAggregation"),
        ] {
            XCTAssertThrowsError(try plan(json).validate(), json) { XCTAssertTrue("\($0)".contains(expected), "\(json): \($0)") }
        }
        XCTAssertThrowsError(try plan(#"{"privacy":{"noiseMultiplier":1,"mode":"local"}}"#)) {
            XCTAssertTrue("\($0)".contains("privacy.mode must be central or distributed, got 'local'"), "\($0)")
        }
        XCTAssertNoThrow(try plan(#"{"privacy":{"noiseMultiplier":1,"mode":"distributed"},"secureAggregation":{}}"#).validate())
    }

    /// The vector holds exactly the tensors a node sends: FedBN leaves out every BatchNorm
    /// tensor, privacy the BatchNorm running statistics, `trainablePrefixes` the frozen ones;
    /// in the model's state order.
    func testLayoutFollowsThePlan() throws {
        var p = TrainingPlan()
        p.secureAggregation = SecureAggregationPlan()
        func names(_ p: TrainingPlan) throws -> [String] { try SecureUpdateEncoding(plan: p, architecture: spec, participants: 3, threshold: 2).names }
        XCTAssertEqual(try names(p), ["features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias",
                                      "features.1.running_mean", "features.1.running_var", "head.weight", "head.bias"])
        var bn = p
        bn.strategy = "fedbn"
        XCTAssertEqual(try names(bn), ["features.0.weight", "features.0.bias", "head.weight", "head.bias"])
        var dp = p
        dp.privacy = PrivacyPlan(clipNorm: 1, noiseMultiplier: 1)
        XCTAssertEqual(try names(dp), ["features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias", "head.weight", "head.bias"])
        var head = p
        head.trainablePrefixes = ["head"]
        XCTAssertEqual(try names(head), ["features.1.running_mean", "features.1.running_var", "head.weight", "head.bias"])
        XCTAssertEqual(try SecureUpdateEncoding(plan: head, architecture: spec, participants: 3, threshold: 2).length, 8 + 8 + 24 + 3)
    }

    private func delta(_ encoding: SecureUpdateEncoding, scale: Float, seed: UInt64) throws -> ModelDelta {
        var rng = SeededRandom(seed: seed)
        return try ModelDelta(encoding.names.map { name in
            let shape = encoding.shapes[name]!
            return (name, Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in rng.normal() * scale }))
        })
    }

    /// One node's words, decoded alone, are its update clipped to C: the norm is ≤ C exactly
    /// (in double precision) whatever the update's length, and an update within C goes through
    /// to within the fixed-point resolution; a node's weight scales it.
    func testWordsHoldTheClippedWeightedUpdate() throws {
        var p = TrainingPlan()
        p.secureAggregation = SecureAggregationPlan(clipNorm: 2)
        let encoding = try SecureUpdateEncoding(plan: p, architecture: spec, participants: 4, threshold: 3)
        var noise = GaussianNoise.seeded(1)
        for (seed, scale) in [(1 as UInt64, Float(10)), (2, 1), (3, 0.01)] {
            let d = try delta(encoding, scale: scale, seed: seed)
            let (words, norm) = try encoding.words(for: d, weight: 1, noise: &noise)
            XCTAssertEqual(norm, d.l2Norm, accuracy: 1e-9 * d.l2Norm)
            let decoded = encoding.fixedPoint.decode(sum: words)
            let decodedNorm = decoded.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            XCTAssertLessThanOrEqual(decodedNorm, 2, "seed \(seed): the encoded update's norm is within C")
            if d.l2Norm < 1.9 {
                let flat = encoding.names.flatMap { d[$0]!.data }
                for (a, b) in zip(decoded, flat) { XCTAssertEqual(Double(a), Double(b), accuracy: encoding.fixedPoint.resolution) }
            } else {
                XCTAssertGreaterThan(decodedNorm, 1.99, "clipped to C, not shrunk further")
            }
            let (half, _) = try encoding.words(for: d, weight: 0.25, noise: &noise)
            for (a, b) in zip(encoding.fixedPoint.decode(sum: half), decoded) { XCTAssertEqual(Double(a), Double(b) * 0.25, accuracy: 2 * encoding.fixedPoint.resolution) }
        }
        var wrong = TrainingPlan()
        wrong.secureAggregation = SecureAggregationPlan()
        wrong.strategy = "fedbn"
        let other = try SecureUpdateEncoding(plan: wrong, architecture: spec, participants: 4, threshold: 3)
        XCTAssertThrowsError(try other.words(for: try delta(encoding, scale: 1, seed: 4), weight: 1, noise: &noise)) {
            XCTAssertTrue("\($0)".contains("are not the round's"), "\($0)")
        }
        XCTAssertThrowsError(try encoding.words(for: try delta(encoding, scale: 1, seed: 4), weight: 1.5, noise: &noise))
    }

    /// Distributed DP: each of n nodes adds N(0, (σC)²/t) per coordinate, so the decoded modular
    /// sum of n noised zero updates has standard deviation σC·√(n/t) (at least σC whenever t or
    /// more nodes are summed). Measured over 2 × 43 coordinates × 300 repetitions = 25 800
    /// samples: within 3 % (the estimate's relative standard error is 1/√(2N) ≈ 0.44 %); the
    /// sample mean within 5 standard errors of 0.
    func testDistributedNoiseSumsToTheStatedStandardDeviation() throws {
        var p = TrainingPlan()
        p.secureAggregation = SecureAggregationPlan(threshold: 3)
        p.privacy = PrivacyPlan(clipNorm: 0.5, noiseMultiplier: 1.2, mode: .distributed)
        try p.validate()
        let n = 5, t = 3
        let encoding = try SecureUpdateEncoding(plan: p, architecture: spec, participants: n, threshold: t)
        XCTAssertEqual(encoding.nodeNoiseStandardDeviation, 1.2 * 0.5 / 3.0.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(Double(encoding.fixedPoint.range), 0.5 + 10 * encoding.nodeNoiseStandardDeviation, accuracy: 1e-6)
        let zero = try ModelDelta(encoding.names.map { ($0, Tensor(shape: encoding.shapes[$0]!)) })
        var noise = GaussianNoise.seeded(7)
        var samples: [Double] = []
        for _ in 0..<300 {
            var sum = [UInt32](repeating: 0, count: encoding.length)
            for _ in 0..<n {
                let (w, _) = try encoding.words(for: zero, weight: 1, noise: &noise)
                for i in sum.indices { sum[i] &+= w[i] }
            }
            samples += encoding.fixedPoint.decode(sum: sum).map(Double.init)
        }
        let count = Double(samples.count)
        let mean = samples.reduce(0, +) / count
        let sd = (samples.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (count - 1)).squareRoot()
        let expected = 1.2 * 0.5 * (Double(n) / Double(t)).squareRoot()
        XCTAssertEqual(sd / expected, 1, accuracy: 0.03, "sd \(sd), expected \(expected)")
        XCTAssertEqual(mean, 0, accuracy: 5 * expected / count.squareRoot())
        // Central DP under secure aggregation: nodes add nothing; the coordinator adds σC to the sum.
        p.privacy?.mode = .central
        XCTAssertEqual(try SecureUpdateEncoding(plan: p, architecture: spec, participants: n, threshold: t).nodeNoiseStandardDeviation, 0)
    }

    /// `mean` decodes, adds central noise of the stated deviation, divides, and splits by tensor.
    func testMeanDividesAndSplitsTheDecodedSum() throws {
        var p = TrainingPlan()
        p.secureAggregation = SecureAggregationPlan(clipNorm: 1)
        let encoding = try SecureUpdateEncoding(plan: p, architecture: spec, participants: 3, threshold: 2)
        var noise = GaussianNoise.seeded(3)
        let ds = try (0..<3).map { try delta(encoding, scale: 0.01, seed: UInt64(10 + $0)) }
        var sum = [UInt32](repeating: 0, count: encoding.length)
        for d in ds { for (i, w) in try encoding.words(for: d, weight: 1, noise: &noise).words.enumerated() { sum[i] &+= w } }
        let mean = try encoding.mean(sum: sum, divisor: 3, centralNoise: 0, noise: &noise)
        XCTAssertEqual(Set(mean.keys), Set(encoding.names))
        for name in encoding.names {
            XCTAssertEqual(mean[name]!.shape, encoding.shapes[name]!)
            for i in 0..<mean[name]!.count {
                let exact = ds.reduce(0.0) { $0 + Double($1[name]!.data[i]) } / 3
                XCTAssertEqual(Double(mean[name]!.data[i]), exact, accuracy: encoding.fixedPoint.resolution)
            }
        }
        let noised = try encoding.mean(sum: [UInt32](repeating: 0, count: encoding.length), divisor: 1, centralNoise: 0.5, noise: &noise)
        let values = noised.values.flatMap(\.data).map(Double.init)
        XCTAssertGreaterThan(values.map(abs).max()!, 0.1, "noise was added")
        XCTAssertThrowsError(try encoding.mean(sum: [1, 2], divisor: 1, centralNoise: 0, noise: &noise))
    }

    /// Under adaptive clipping the vector carries one more word, the node's centred clipping bit
    /// times κ = z_Δ·C/σ_b, outside the clipped update: the sum's last word reads back as
    /// Σ (b − ½) (norms 0.5, 3 and 0.9 against C = 1: +½ − ½ + ½), and central noise z_Δ·C on
    /// that word is σ_b = 2 on the count (2 000 draws: the sample sd within 8 %, ~5 standard errors).
    func testAdaptiveClippingBitIsOneMoreWordOfTheMaskedVector() throws {
        let p = try plan(#"{"privacy":{"noiseMultiplier":1,"clipNorm":1,"adaptiveClipping":{"countNoise":2}},"secureAggregation":{}}"#)
        var plain = p
        plain.privacy?.adaptiveClipping = nil
        let encoding = try SecureUpdateEncoding(plan: p, architecture: spec, participants: 3, threshold: 2)
        let without = try SecureUpdateEncoding(plan: plain, architecture: spec, participants: 3, threshold: 2)
        let zDelta = try AdaptiveClipping.deltaNoiseMultiplier(total: 1, countNoiseStandardDeviation: 2)
        XCTAssertEqual(encoding.length, without.length + 1)
        XCTAssertEqual(encoding.noiseMultiplier, zDelta)
        XCTAssertEqual(encoding.countScale ?? 0, zDelta * 1 / 2, accuracy: 1e-15)
        XCTAssertNil(without.countScale)
        var noise = GaussianNoise.seeded(4)
        var sum = [UInt32](repeating: 0, count: encoding.length)
        for (seed, norm) in [(UInt64(20), 0.5), (21, 3.0), (22, 0.9)] {
            let d = try delta(encoding, scale: 1, seed: seed)
            let scaled = try ModelDelta(d.entries.map { ($0.name, Tensor(shape: $0.value.shape, data: $0.value.data.map { $0 * Float(norm / d.l2Norm) })) })
            let (words, preClip) = try encoding.words(for: scaled, weight: 1, noise: &noise)
            XCTAssertEqual(preClip, norm, accuracy: 1e-5)
            XCTAssertEqual(words.count, encoding.length)
            for (i, w) in words.enumerated() { sum[i] &+= w }
        }
        let bits = try XCTUnwrap(try encoding.centredBitSum(sum: sum, centralNoise: 0, noise: &noise))
        XCTAssertEqual(bits, 0.5, accuracy: 3 * encoding.fixedPoint.resolution / encoding.countScale!)
        XCTAssertNil(try without.centredBitSum(sum: [UInt32](repeating: 0, count: without.length), centralNoise: 0, noise: &noise))
        let draws = try (0..<2000).map { _ in try encoding.centredBitSum(sum: sum, centralNoise: zDelta * 1, noise: &noise)! - bits }
        let sd = (draws.reduce(0) { $0 + $1 * $1 } / Double(draws.count)).squareRoot()
        XCTAssertEqual(sd, 2, accuracy: 0.16)
    }

    /// Issue 18, point 7: the threshold is a majority t > n/2 by default; an explicit lower one
    /// is refused unless the plan sets allowMinorityThreshold, which turns it into a warning.
    func testThresholdBelowAMajorityNeedsAnExplicitPlanSettingAndWarns() throws {
        let defaulted = try XCTUnwrap(try plan(#"{"secureAggregation":{}}"#).secureAggregation)
        for n in 2...12 {
            let t = defaulted.threshold(participants: n)
            XCTAssertGreaterThan(2 * t, n, "n = \(n): default t = \(t) is a majority")
            XCTAssertNil(try defaulted.checkThreshold(participants: n), "n = \(n)")
        }
        let low = try XCTUnwrap(try plan(#"{"secureAggregation":{"threshold":4}}"#).secureAggregation)
        XCTAssertNil(try low.checkThreshold(participants: 7), "4 of 7 is a majority")
        XCTAssertThrowsError(try low.checkThreshold(participants: 8)) {
            XCTAssertTrue("\($0)".contains("secureAggregation.threshold 4 is not a majority of the round's 8 participants"), "\($0)")
            XCTAssertTrue("\($0)".contains("allowMinorityThreshold"), "\($0)")
        }
        let allowed = try XCTUnwrap(try plan(#"{"secureAggregation":{"threshold":4,"allowMinorityThreshold":true}}"#).secureAggregation)
        XCTAssertTrue(allowed.allowMinorityThreshold)
        let warning = try XCTUnwrap(try allowed.checkThreshold(participants: 9))
        XCTAssertTrue(warning.hasPrefix("WARNING:") && warning.contains("threshold 4 is not a majority of the round's 9"), warning)
        XCTAssertEqual(try JSONDecoder().decode(SecureAggregationPlan.self, from: JSONEncoder().encode(allowed)), allowed, "round trip")
        XCTAssertFalse(String(decoding: try JSONEncoder().encode(defaulted), as: UTF8.self).contains("allowMinorityThreshold"), "absent unless set")
    }

    /// Issue 18, point 4: SECAGG_LEAVE carries a fixed reason code; a free-text reason (an
    /// error's message, which may hold data-dependent figures) does not parse.
    func testLeaveCarriesOnlyAFixedReasonCode() throws {
        let frame = try SecureAggregationMessages.frame(.secaggLeave, SecureAggregationMessages.LeaveMessage(session: 7, reason: .trainingFailed))
        XCTAssertTrue(String(decoding: frame.payload, as: UTF8.self).contains(#""reason":"training_failed""#))
        XCTAssertEqual(try SecureAggregationMessages.parse(frame, as: SecureAggregationMessages.LeaveMessage.self, session: 7).reason, .trainingFailed)
        let text = #"{"session":7,"reason":"loss became 3.25 at step 12"}"#
        XCTAssertThrowsError(try JSONDecoder().decode(SecureAggregationMessages.LeaveMessage.self, from: Data(text.utf8)))
        XCTAssertEqual(Set(SecureAggregationMessages.LeaveReason.allCases.map(\.rawValue)), ["training_failed", "encoding_failed"])
    }

    /// SECAGG_* messages survive the wire encoding (u64 share values included); a message for
    /// another session, trailing bytes, or a masked body of the wrong length are refused.
    func testMessagesRoundTripAndRejectWrongSessionsAndLengths() throws {
        let shares: [UInt32: ShamirShare] = [1: ShamirShare(x: 2, values: [0, 1, (1 << 61) - 2, 12345678901234567, 7]),
                                             3: ShamirShare(x: 2, values: [5, 4, 3, 2, 1])]
        let unmask = SecureAggregation.Unmasking(node: 2, selfMaskShares: shares, maskingKeyShares: [4: ShamirShare(x: 2, values: [9, 9, 9, 9, 9])])
        let frame = try SecureAggregationMessages.frame(.secaggUnmask, SecureAggregationMessages.UnmaskMessage(session: 513, unmask))
        XCTAssertEqual(frame.type, MessageType.secaggUnmask.rawValue)
        let back = try SecureAggregationMessages.parse(frame, as: SecureAggregationMessages.UnmaskMessage.self, session: 513)
        XCTAssertEqual(try back.value(), unmask)
        XCTAssertThrowsError(try SecureAggregationMessages.parse(frame, as: SecureAggregationMessages.UnmaskMessage.self, session: 512)) {
            XCTAssertTrue("\($0)".contains("session 513, expected 512"), "\($0)")
        }
        let trailing = Frame(version: frame.version, type: frame.type, payload: frame.payload + [0])
        XCTAssertThrowsError(try SecureAggregationMessages.parse(trailing, as: SecureAggregationMessages.UnmaskMessage.self, session: 513)) {
            XCTAssertTrue("\($0)".contains("UnmaskMessage carries 1 unexpected bytes after its header"), "\($0)")
        }
        let words: [UInt32] = [0, 1, 0xFFFF_FFFF, 0x8000_0000, 42]
        XCTAssertEqual(try SecureAggregationMessages.words(SecureAggregationMessages.body(words), length: 5), words)
        XCTAssertThrowsError(try SecureAggregationMessages.words(SecureAggregationMessages.body(words), length: 6)) {
            XCTAssertTrue("\($0)".contains("masked input of 20 bytes, expected 6 words"), "\($0)")
        }
        let keys = X25519KeyPair.generate(random: CryptoRandom(seed: 1))
        let advertised = SecureAggregation.PublicKeys(node: 4, encryptionKey: keys.publicKey, maskingKey: X25519KeyPair.generate(random: CryptoRandom(seed: 2)).publicKey)
        let keysFrame = try SecureAggregationMessages.frame(.secaggKeys, SecureAggregationMessages.KeysMessage(session: 9, keys: .init(advertised)))
        XCTAssertEqual(try SecureAggregationMessages.parse(keysFrame, as: SecureAggregationMessages.KeysMessage.self, session: 9).keys.value, advertised)
        // Two shares of one node's secret in one message are refused.
        let twice = #"{"session":1,"node":2,"selfMaskShares":[{"of":1,"x":2,"values":[1,2,3,4,5]},{"of":1,"x":2,"values":[1,2,3,4,5]}],"maskingKeyShares":[]}"#
        let dup = try JSONDecoder().decode(SecureAggregationMessages.UnmaskMessage.self, from: Data(twice.utf8))
        XCTAssertThrowsError(try dup.value()) { XCTAssertTrue("\($0)".contains("reveals two shares of node 1"), "\($0)") }
    }

    /// SECAGG_MASKED is streamed: a masked input of many chunks arrives whole and parses back
    /// to its header and words; the receiver's budget is exactly 4·L plus the header allowance,
    /// and a message announcing more is refused from its start frame, before anything is read; the
    /// single-frame replies have small limits that grow with the round's nodes.
    func testTheMaskedInputIsStreamedWithinAnExactBudget() throws {
        let length = 700
        let words = (0..<length).map { UInt32(truncatingIfNeeded: $0 &* 2_654_435_761) }
        let header = SecureAggregationMessages.MaskedHeader(session: 256, node: 2, round: 1, modelVersion: 0, samples: 8, metrics: ["record_epsilon": 1.5])
        let message = try SecureAggregationMessages.maskedMessage(header, words: words, chunkSize: 1000)
        XCTAssertGreaterThan(message.chunkCount, 2)
        XCTAssertEqual(message.type, MessageType.secaggMasked.rawValue)
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        let client = FramedConnection(stream: try TCPSocket.connect(host: "127.0.0.1", port: listener.port, timeout: 5))
        let server = FramedConnection(stream: try XCTUnwrap(try listener.accept(timeout: 5)), maxPayload: 4 << 10)
        defer { client.close(); server.close() }
        let budget = SecureAggregationMessages.maskedBudget(length: length)
        XCTAssertEqual(budget, 4 * length + 4 + SecureAggregationMessages.maxMaskedHeaderBytes)
        try client.send(message, version: ProtocolVersion.current)
        let start = try server.receive(timeout: 5)
        let bytes = try server.receiveStreamedBytes(start, budget: budget, timeout: 5)
        let (parsed, body) = try RoundMessages.parse(bytes, as: SecureAggregationMessages.MaskedHeader.self)
        XCTAssertEqual(parsed.node, 2)
        XCTAssertEqual(parsed.metrics, ["record_epsilon": 1.5])
        XCTAssertEqual(try SecureAggregationMessages.words(body, length: length), words)
        let tooMany = (budget - 4 - 20) / 4 + 1
        let padded = SecureAggregationMessages.MaskedHeader(session: 256, node: 2, round: 1, modelVersion: 0, samples: 8,
                                                            metrics: [String(repeating: "x", count: SecureAggregationMessages.maxMaskedHeaderBytes - 200): 1])
        let big = try SecureAggregationMessages.maskedMessage(padded, words: [UInt32](repeating: 7, count: tooMany))
        XCTAssertGreaterThan(big.length, budget)
        Thread { try? client.send(big, version: ProtocolVersion.current) }.start()
        let bigStart = try server.receive(timeout: 5)
        XCTAssertThrowsError(try server.receiveStreamedBytes(bigStart, budget: budget, timeout: 5)) {
            XCTAssertTrue("\($0)".contains("announces \(big.length) bytes, over the budget of \(budget) bytes"), "\($0)")
        }
        XCTAssertThrowsError(try SecureAggregationMessages.maskedMessage(
            .init(session: 1, node: 1, round: 1, modelVersion: 0, samples: 1, metrics: [String(repeating: "y", count: 70_000): 1]), words: [1])) {
            XCTAssertTrue("\($0)".contains("masked input header of"), "\($0)")
        }
        XCTAssertEqual(SecureAggregationMessages.replyLimit(.secaggKeys, nodes: 50), 4 << 10)
        XCTAssertEqual(SecureAggregationMessages.replyLimit(.secaggShares, nodes: 50), (16 << 10) + 512 * 50)
        XCTAssertEqual(SecureAggregationMessages.replyLimit(.secaggUnmask, nodes: 2), (16 << 10) + 1024)
    }

    /// Under secure aggregation a node's shuffling seed mixes in fresh CSPRNG bits, so no two
    /// attempts train alike; otherwise it is the plan's seed and the round (reproducible).
    func testTrainingSeedIsFreshUnderSecureAggregation() {
        var plan = TrainingPlan()
        plan.seed = 42
        XCTAssertEqual(FederatedNode.trainingSeed(plan: plan, round: 3, secureAggregation: false), 42 &+ 3 &* 7919)
        XCTAssertEqual(FederatedNode.trainingSeed(plan: plan, round: 3, secureAggregation: false), FederatedNode.trainingSeed(plan: plan, round: 3, secureAggregation: false))
        let fresh = Set((0..<8).map { _ in FederatedNode.trainingSeed(plan: plan, round: 3, secureAggregation: true) })
        XCTAssertEqual(fresh.count, 8, "every secure attempt draws its own seed")
    }
}
