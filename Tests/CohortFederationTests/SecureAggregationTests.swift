import XCTest
import CohortFederation
import CohortTensor

/// The secure-aggregation state machines driven in-process through whole rounds: exact sums,
/// dropouts, too few survivors, independence of a masked vector from its input, tampering.
final class SecureAggregationTests: XCTestCase {
    /// Which nodes fall silent, and where.
    private struct Script {
        var silentAfterAdvertising: Set<UInt32> = []
        /// Shared keys, then sent no masked input: in U₂, not in U₃.
        var silentAfterSharing: Set<UInt32> = []
        /// Sent the masked input, then no unmasking shares: in U₃, but no response.
        var silentAfterMasking: Set<UInt32> = []
        var tamper: ((inout SecureAggregation.Unmasking) -> Void)? = nil
    }

    private func inputs(_ n: Int, length: Int, seed: UInt64, fp: FixedPointEncoding) -> [[Float]] {
        var rng = SeededRandom(seed: seed)
        return (0..<n).map { _ in (0..<length).map { _ in rng.uniform(-fp.range, fp.range) } }
    }

    /// Runs one round; returns the modular sum and the survivor list.
    private func run(_ words: [[UInt32]], threshold: Int, round: UInt64 = 1, seed: UInt64 = 1,
                     script: Script = Script()) throws -> (sum: [UInt32], survivors: [UInt32]) {
        let p = SecureAggregation.Parameters(round: round, threshold: threshold, vectorLength: words[0].count)
        let ids = (1...words.count).map { UInt32($0) }
        let clients = try ids.map { try SecureAggregation.Client(node: $0, parameters: p, random: CryptoRandom(seed: seed &* 1000 &+ UInt64($0))) }
        let server = try SecureAggregation.Server(parameters: p)
        for c in clients { try server.receive(try c.advertiseKeys()) }
        let roster = try server.finishAdvertising()
        var live = clients.filter { !script.silentAfterAdvertising.contains($0.node) }
        for c in live { try server.receive(try c.shareKeys(roster: roster)) }
        let u2 = try server.finishSharing()
        XCTAssertEqual(u2, live.map(\.node))
        live = live.filter { !script.silentAfterSharing.contains($0.node) }
        for c in live { try server.receive(try c.maskInput(words[Int(c.node) - 1], shares: try server.shares(for: c.node))) }
        let u3 = try server.finishMasking()
        live = live.filter { !script.silentAfterMasking.contains($0.node) }
        for c in live {
            var m = try c.unmask(survivors: u3)
            script.tamper?(&m)
            try server.receive(m)
        }
        return (try server.finishUnmasking(), u3)
    }

    private func plainSum(_ words: [[UInt32]], of nodes: [UInt32]) -> [UInt32] {
        var s = [UInt32](repeating: 0, count: words[0].count)
        for u in nodes { for i in s.indices { s[i] &+= words[Int(u) - 1][i] } }
        return s
    }

    func testUnmaskedSumEqualsThePlainFixedPointSumExactly() throws {
        for (n, t) in [(5, 3), (10, 6)] {
            let fp = try FixedPointEncoding(range: 1, maxSummands: n)
            let x = inputs(n, length: 3001, seed: UInt64(n), fp: fp)
            let words = x.map(fp.encode)
            let (sum, survivors) = try run(words, threshold: t, seed: UInt64(n))
            XCTAssertEqual(survivors, (1...n).map { UInt32($0) })
            XCTAssertEqual(sum, plainSum(words, of: survivors), "n = \(n): the unmasked sum is the plain modular sum, bit for bit")
            let decoded = fp.decode(sum: sum)
            for i in stride(from: 0, to: 3001, by: 37) {
                let exact = x.reduce(0.0) { $0 + Double($1[i]) }
                XCTAssertLessThanOrEqual(abs(Double(decoded[i]) - exact), fp.decodeErrorBound(summands: n, magnitude: abs(exact)))
            }
        }
    }

    func testNodesDroppingBeforeTheirMaskedInputLeaveTheSurvivorsExactSum() throws {
        let fp = try FixedPointEncoding(range: 1, maxSummands: 7)
        let words = inputs(7, length: 1000, seed: 3, fp: fp).map(fp.encode)
        for dropped: Set<UInt32> in [[4], [2, 7]] {
            let (sum, survivors) = try run(words, threshold: 4, seed: 3, script: Script(silentAfterSharing: dropped))
            XCTAssertEqual(Set(survivors), Set((1...7).map { UInt32($0) }).subtracting(dropped))
            XCTAssertEqual(sum, plainSum(words, of: survivors), "dropped \(dropped.sorted())")
        }
    }

    func testNodesDroppingAfterTheirMaskedInputStillCount() throws {
        let fp = try FixedPointEncoding(range: 1, maxSummands: 7)
        let words = inputs(7, length: 1000, seed: 4, fp: fp).map(fp.encode)
        for silent: Set<UInt32> in [[1], [3, 6]] {
            let (sum, survivors) = try run(words, threshold: 4, seed: 4, script: Script(silentAfterMasking: silent))
            XCTAssertEqual(survivors, (1...7).map { UInt32($0) })
            XCTAssertEqual(sum, plainSum(words, of: survivors), "silent in unmasking: \(silent.sorted())")
        }
        // Both kinds at once, and a node that never shared keys at all.
        let script = Script(silentAfterAdvertising: [5], silentAfterSharing: [2], silentAfterMasking: [7])
        let (sum, survivors) = try run(words, threshold: 4, seed: 4, script: script)
        XCTAssertEqual(survivors, [1, 3, 4, 6, 7])
        XCTAssertEqual(sum, plainSum(words, of: survivors))
    }

    func testFewerThanThresholdSurvivorsFailCleanlyAndTheNextRoundProceeds() throws {
        let fp = try FixedPointEncoding(range: 1, maxSummands: 5)
        let words = inputs(5, length: 100, seed: 5, fp: fp).map(fp.encode)
        XCTAssertThrowsError(try run(words, threshold: 3, script: Script(silentAfterSharing: [1, 2, 3]))) {
            XCTAssertEqual($0 as? SecureAggregationError, .belowThreshold(stage: "masked input", nodes: 2, threshold: 3))
        }
        XCTAssertThrowsError(try run(words, threshold: 3, script: Script(silentAfterMasking: [1, 2, 3]))) {
            XCTAssertEqual($0 as? SecureAggregationError, .belowThreshold(stage: "unmasking", nodes: 2, threshold: 3))
        }
        XCTAssertThrowsError(try run(words, threshold: 4, script: Script(silentAfterAdvertising: [1, 2]))) {
            XCTAssertEqual($0 as? SecureAggregationError, .belowThreshold(stage: "key sharing", nodes: 3, threshold: 4))
        }
        // A client refuses to reveal anything for a survivor list below the threshold, even if
        // a (dishonest) server asks.
        let p = SecureAggregation.Parameters(round: 9, threshold: 3, vectorLength: 4)
        let clients = try (1...3).map { try SecureAggregation.Client(node: UInt32($0), parameters: p, random: CryptoRandom(seed: UInt64($0))) }
        let server = try SecureAggregation.Server(parameters: p)
        for c in clients { try server.receive(try c.advertiseKeys()) }
        let roster = try server.finishAdvertising()
        for c in clients { try server.receive(try c.shareKeys(roster: roster)) }
        _ = try server.finishSharing()
        for c in clients { _ = try c.maskInput([1, 2, 3, 4], shares: try server.shares(for: c.node)) }
        XCTAssertThrowsError(try clients[0].unmask(survivors: [1, 2])) {
            XCTAssertEqual($0 as? SecureAggregationError, .belowThreshold(stage: "unmasking", nodes: 2, threshold: 3))
        }
        XCTAssertThrowsError(try clients[0].unmask(survivors: [1, 2, 9]), "a node outside U₂")
        // The next round, with new keys, goes through.
        let (sum, survivors) = try run(words, threshold: 3, round: 2)
        XCTAssertEqual(sum, plainSum(words, of: survivors))
    }

    /// A masked vector, what the coordinator sees of one node, against the node's input: over
    /// 200 rounds × 500 coordinates (N = 100 000 pairs) the Pearson correlation of input and
    /// masked word is within 5/√N ≈ 0.016 of 0, and the masked words are uniform on 2³² (mean
    /// within 5 standard errors of 2³¹) whether the input is all −range, all +range or random.
    func testAMaskedVectorIsIndependentOfItsInput() throws {
        let fp = try FixedPointEncoding(range: 1, maxSummands: 3)
        var xs: [Double] = [], ys: [Double] = []
        var meansByInput: [String: [Double]] = ["low": [], "high": [], "random": []]
        for trial in 0..<200 {
            let kind = ["low", "high", "random"][trial % 3]
            var rng = SeededRandom(seed: UInt64(trial))
            let x: [Float] = (0..<500).map { _ in kind == "low" ? -1 : kind == "high" ? 1 : rng.uniform(-1, 1) }
            let p = SecureAggregation.Parameters(round: UInt64(trial), threshold: 2, vectorLength: 500)
            let clients = try (1...3).map { try SecureAggregation.Client(node: UInt32($0), parameters: p, random: CryptoRandom(seed: UInt64(trial * 10 + $0))) }
            let server = try SecureAggregation.Server(parameters: p)
            for c in clients { try server.receive(try c.advertiseKeys()) }
            let roster = try server.finishAdvertising()
            for c in clients { try server.receive(try c.shareKeys(roster: roster)) }
            _ = try server.finishSharing()
            let y = try clients[0].maskInput(fp.encode(x), shares: try server.shares(for: 1)).words
            if kind == "random" {
                xs += x.map(Double.init)
                ys += y.map(Double.init)
            }
            meansByInput[kind]! += y.map { Double($0) }
        }
        let n = Double(xs.count)
        let mx = xs.reduce(0, +) / n, my = ys.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in xs.indices { sxy += (xs[i] - mx) * (ys[i] - my); sxx += (xs[i] - mx) * (xs[i] - mx); syy += (ys[i] - my) * (ys[i] - my) }
        let r = sxy / (sxx * syy).squareRoot()
        XCTAssertLessThan(abs(r), 5 / n.squareRoot(), "correlation of input and masked word: \(r)")
        let uniformSD = 4_294_967_296.0 / 12.0.squareRoot()
        for (kind, values) in meansByInput {
            let mean = values.reduce(0, +) / Double(values.count)
            XCTAssertEqual(mean, 2_147_483_648, accuracy: 5 * uniformSD / Double(values.count).squareRoot(), "masked words for \(kind) input")
        }
    }

    func testTamperedSharesAreDetectedNotSummed() throws {
        let fp = try FixedPointEncoding(range: 1, maxSummands: 5)
        let words = inputs(5, length: 64, seed: 6, fp: fp).map(fp.encode)
        func bump(_ s: ShamirShare) -> ShamirShare { ShamirShare(x: s.x, values: s.values.map { ($0 + 1) % ShamirSecretSharing.prime }) }
        // More responders than t: the wrong share is off the polynomial.
        let selfMask = Script(tamper: { m in if m.node == 2 { m.selfMaskShares[4] = bump(m.selfMaskShares[4]!) } })
        XCTAssertThrowsError(try run(words, threshold: 3, script: selfMask)) {
            guard case .badShares(node: 4, _)? = $0 as? SecureAggregationError else { return XCTFail("\($0)") }
        }
        // Exactly t responders: the rebuilt key fails its public-key check (or the chunk encoding).
        let key = Script(silentAfterSharing: [5], silentAfterMasking: [1],
                         tamper: { m in if m.node == 3 { m.maskingKeyShares[5] = bump(m.maskingKeyShares[5]!) } })
        XCTAssertThrowsError(try run(words, threshold: 3, script: key)) {
            guard case .badShares(node: 5, _)? = $0 as? SecureAggregationError else { return XCTFail("\($0)") }
        }
        // A share claimed for the wrong point, or revealing a survivor's key, is refused on receipt.
        let wrongPoint = Script(tamper: { m in if m.node == 2 { m.selfMaskShares[1] = ShamirShare(x: 9, values: m.selfMaskShares[1]!.values) } })
        XCTAssertThrowsError(try run(words, threshold: 3, script: wrongPoint))
        let both = Script(tamper: { m in if m.node == 2 { m.maskingKeyShares[1] = m.selfMaskShares[1]! } })
        XCTAssertThrowsError(try run(words, threshold: 3, script: both)) {
            guard case .invalidMessage? = $0 as? SecureAggregationError else { return XCTFail("\($0)") }
        }
    }

    func testBundlesAreAuthenticatedAndStepsOrdered() throws {
        let p = SecureAggregation.Parameters(round: 1, threshold: 2, vectorLength: 2)
        let a = try SecureAggregation.Client(node: 1, parameters: p, random: CryptoRandom(seed: 1))
        let b = try SecureAggregation.Client(node: 2, parameters: p, random: CryptoRandom(seed: 2))
        let server = try SecureAggregation.Server(parameters: p)
        XCTAssertThrowsError(try a.shareKeys(roster: []), "step 2 before step 1")
        let ka = try a.advertiseKeys(), kb = try b.advertiseKeys()
        try server.receive(ka)
        XCTAssertThrowsError(try server.receive(ka), "repeated node")
        XCTAssertThrowsError(try server.receive(SecureAggregation.PublicKeys(node: 3, encryptionKey: [UInt8](repeating: 0, count: 32),
                                                                              maskingKey: [UInt8](repeating: 1, count: 32))),
                             "small-order key refused at the server")
        try server.receive(kb)
        let roster = try server.finishAdvertising()
        XCTAssertThrowsError(try server.receive(kb), "step 1 is closed")
        XCTAssertThrowsError(try a.shareKeys(roster: [kb]), "a roster without the node's own keys")
        let sa = try a.shareKeys(roster: roster)
        var sb = try b.shareKeys(roster: roster)
        try server.receive(sa)
        sb.shares[0].ciphertext[3] ^= 1
        try server.receive(sb)  // the server cannot tell: it only routes
        _ = try server.finishSharing()
        XCTAssertThrowsError(try a.maskInput([1, 2], shares: try server.shares(for: 1))) {
            XCTAssertTrue("\($0)".contains("fails authentication"), "\($0)")
        }
        XCTAssertThrowsError(try b.maskInput([1, 2, 3], shares: try server.shares(for: 2)), "wrong length")
        XCTAssertThrowsError(try server.receive(SecureAggregation.MaskedInput(node: 1, words: [1])), "wrong length at the server")
        XCTAssertThrowsError(try server.receive(SecureAggregation.MaskedInput(node: 8, words: [1, 2])), "unknown node")
    }

    func testSeededRoundsAreReproducible() throws {
        let words: [[UInt32]] = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
        func masked(seed: UInt64) throws -> [UInt32] {
            let p = SecureAggregation.Parameters(round: 1, threshold: 2, vectorLength: 3)
            let clients = try (1...3).map { try SecureAggregation.Client(node: UInt32($0), parameters: p, random: CryptoRandom(seed: seed + UInt64($0))) }
            let server = try SecureAggregation.Server(parameters: p)
            for c in clients { try server.receive(try c.advertiseKeys()) }
            let roster = try server.finishAdvertising()
            for c in clients { try server.receive(try c.shareKeys(roster: roster)) }
            _ = try server.finishSharing()
            return try clients[1].maskInput(words[1], shares: try server.shares(for: 2)).words
        }
        XCTAssertEqual(try masked(seed: 10), try masked(seed: 10))
        XCTAssertNotEqual(try masked(seed: 10), try masked(seed: 20))
        XCTAssertEqual(try run(words, threshold: 2).sum, [12, 15, 18])
    }

    /// What a round costs in-process: 10 nodes, a million words, one node dropping before its
    /// masked input (so the server also rebuilds a key and nine pairwise masks). Printed, not
    /// asserted beyond sanity: `cohort bench privacy` is the measurement.
    func testRoundCostForAMillionWords() throws {
        let n = 10, length = 1 << 20
        let p = SecureAggregation.Parameters(round: 1, threshold: SecureAggregation.Parameters.majorityThreshold(nodes: n), vectorLength: length)
        XCTAssertEqual(p.threshold, 6)
        let clients = try (1...n).map { try SecureAggregation.Client(node: UInt32($0), parameters: p, random: CryptoRandom(seed: UInt64($0))) }
        let server = try SecureAggregation.Server(parameters: p)
        let input = [UInt32](repeating: 3, count: length)
        var clientSeconds = 0.0, serverSeconds = 0.0
        func timed<T>(_ into: inout Double, _ body: () throws -> T) rethrows -> T {
            let t0 = DispatchTime.now().uptimeNanoseconds
            defer { into += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 }
            return try body()
        }
        for c in clients { let k = try timed(&clientSeconds) { try c.advertiseKeys() }; try timed(&serverSeconds) { try server.receive(k) } }
        let roster = try timed(&serverSeconds) { try server.finishAdvertising() }
        for c in clients { let s = try timed(&clientSeconds) { try c.shareKeys(roster: roster) }; try timed(&serverSeconds) { try server.receive(s) } }
        _ = try timed(&serverSeconds) { try server.finishSharing() }
        for c in clients.dropLast() {
            let m = try timed(&clientSeconds) { try c.maskInput(input, shares: try server.shares(for: c.node)) }
            try timed(&serverSeconds) { try server.receive(m) }
        }
        let u3 = try timed(&serverSeconds) { try server.finishMasking() }
        for c in clients.dropLast() { let m = try timed(&clientSeconds) { try c.unmask(survivors: u3) }; try timed(&serverSeconds) { try server.receive(m) } }
        let sum = try timed(&serverSeconds) { try server.finishUnmasking() }
        XCTAssertEqual(sum[0], 27)
        XCTAssertEqual(sum[length - 1], 27)
        print(String(format: "secure aggregation, %d nodes × %d words, 1 dropout: %.3f s per node, %.3f s at the server", n, length,
                     clientSeconds / Double(n - 1), serverSeconds))
    }
}
