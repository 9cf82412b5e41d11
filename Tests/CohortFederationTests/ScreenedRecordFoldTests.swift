import XCTest
import CohortCheckpoint
import CohortFederation
import CohortTensor

/// Issue 16 point 8 on the coordinator's screened path: `ScreenedAggregation` takes each update
/// as the decoder's checked records (norm from the decoder's scan, no decoding to hold it) and
/// folds the kept ones from their wire bytes at the end of the round. The aggregate must have
/// the bits of the old path (each update decoded, screened, handed to the base strategy), and a
/// rejected update must leave no trace in it.
final class ScreenedRecordFoldTests: XCTestCase {
    let shapes = ["a": [3001], "b": [70_003], "c": [17]]
    var global: [String: Tensor] {
        var rng = SeededRandom(seed: 50)
        return shapes.mapValues { s in Tensor(shape: s, data: (0..<s[0]).map { _ in rng.normal() }) }
    }
    let names = ["n0", "n1", "n2", "n3", "n4", "n5"]
    let samples = ["n0": 5, "n1": 12, "n2": 1, "n3": 40, "n4": 7, "n5": 300]

    /// Each node's update as checked records; node n5's is `hostileScale` × larger. Codecs
    /// differ by node (dense float32 in 1 KiB feeds, int8, sparse top-k, float16 with zlib).
    func updates(hostileScale: Float = 1000) throws -> [String: [DeltaRecord]] {
        let configs = [DeltaCodecConfig(), DeltaCodecConfig(quantization: .int8(blockSize: 64)), DeltaCodecConfig(topKFraction: 0.1),
                       DeltaCodecConfig(), DeltaCodecConfig(quantization: .float16, zlibLevel: 1), DeltaCodecConfig()]
        var out: [String: [DeltaRecord]] = [:]
        for (k, name) in names.enumerated() {
            var rng = SeededRandom(seed: 60 + UInt64(k))
            let scale: Float = name == "n5" ? hostileScale : 1
            let delta = try ModelDelta(["b", "a", "c"].map { n in (n, Tensor(shape: shapes[n]!, data: (0..<shapes[n]![0]).map { _ in rng.normal() * 0.01 * scale })) })
            let bytes = try DeltaEncoder(config: configs[k]).encode(delta)
            let decoder = DeltaStreamDecoder(expectedShapes: shapes, maxBytes: 1 << 24, messageLength: bytes.count)
            var records: [DeltaRecord] = []
            try bytes.withUnsafeBytes { all in
                var at = 0
                while at < all.count {   // gathered from small feeds, as from a socket's chunks
                    let n = min(1024, all.count - at)
                    try decoder.feed(UnsafeRawBufferPointer(rebasing: all[at..<(at + n)])) { records.append($0.owned()) }
                    at += n
                }
            }
            try decoder.finish()
            out[name] = records
        }
        return out
    }

    /// The coordinator's path: records offered to an ordered fold in reverse arrival order.
    func viaRecords(_ strategy: ScreenedAggregation, _ u: [String: [DeltaRecord]], participants: [String]? = nil) throws -> [String: Tensor] {
        let names = participants ?? self.names
        strategy.begin(round: 1, global: global)
        let fold = OrderedFold(participants: names, samples: samples, strategy: strategy)
        for n in names.reversed() {
            for r in u[n]! { try fold.offer(n, record: r) }
            try fold.complete(n)
        }
        fold.close()
        XCTAssertEqual(fold.folded, names)
        XCTAssertEqual(fold.rejected, [:])
        return try strategy.finish()
    }

    /// The old path: each update decoded to tensors and handed whole to the strategy, in name order.
    func viaDecoded(_ strategy: AggregationStrategy, _ u: [String: [DeltaRecord]], participants: [String]? = nil) throws -> [String: Tensor] {
        strategy.begin(round: 1, global: global)
        for n in participants ?? names { try strategy.accumulate(try ModelDelta(u[n]!.map { ($0.name, $0.decoded()) }), samples: samples[n]!) }
        return try strategy.finish()
    }

    func bits(_ state: [String: Tensor]) -> [String: [UInt32]] { state.mapValues { $0.data.map(\.bitPattern) } }

    func testKeptCappedAndRejectedUpdatesGiveTheOldPathsBits() throws {
        let u = try updates()
        let plans = [
            UpdateScreeningPlan(maxNormMultiple: 5, maxSamplesMultiple: 2, action: .reject),   // n5 rejected, weights capped
            UpdateScreeningPlan(maxSamples: 10),                                                // caps only
            UpdateScreeningPlan(maxNorm: 1e9, action: .reject),                                 // keeps all
        ]
        for plan in plans {
            // Record-folding bases (fold at finish from the wire bytes) and a whole-update one
            // (the held records decoded one at a time at finish).
            for base in [{ FedAvg() as AggregationStrategy }, { ServerOptimizer(.adam) as AggregationStrategy },
                         { RobustAggregation(.median) as AggregationStrategy }] {
                let fused = ScreenedAggregation(base: base(), plan: plan)
                let old = ScreenedAggregation(base: base(), plan: plan)
                let a = try viaRecords(fused, u)
                let b = try viaDecoded(old, u)
                XCTAssertEqual(bits(a), bits(b), "\(plan) \(fused.name)")
                XCTAssertEqual(fused.screen().count, 6)
                // Same verdicts, norms equal to the decoded ones within float32 block sums' rounding.
                for (x, y) in zip(fused.screen(), old.screen()) {
                    switch (x, y) {
                    case (.rejected(let n1, let b1), .rejected(let n2, let b2)):
                        XCTAssertEqual(n1, n2, accuracy: n2 * 1e-6)
                        XCTAssertEqual(b1, b2, accuracy: b2 * 1e-6)
                    default: XCTAssertEqual(x, y)
                    }
                }
            }
        }
        // The first plan did reject n5 and cap n3's weight (the median of 5, 12, 1, 40, 7, 300 is 9.5).
        let check = ScreenedAggregation(base: FedAvg(), plan: plans[0])
        _ = try viaRecords(check, u)
        guard case .rejected = check.screen()[5] else { return XCTFail("n5 was not rejected: \(check.screen())") }
        XCTAssertEqual(check.screen()[3], .weightCapped(from: 40, to: 19))
    }

    func testARejectedUpdateLeavesNoTraceInTheAggregate() throws {
        let u = try updates(hostileScale: 1e6)
        let screened = ScreenedAggregation(base: FedAvg(), plan: UpdateScreeningPlan(maxNormMultiple: 5, action: .reject))
        let withHostile = try viaRecords(screened, u)
        guard case .rejected = screened.screen()[5] else { return XCTFail("n5 was not rejected") }
        // FedAvg over the five honest updates alone, through the ordinary (unscreened) fold.
        let honest = Array(names.prefix(5))
        let plain = FedAvg()
        plain.begin(round: 1, global: global)
        let fold = OrderedFold(participants: honest, samples: samples, strategy: plain)
        for n in honest { for r in u[n]! { try fold.offer(n, record: r) }; try fold.complete(n) }
        fold.close()
        XCTAssertEqual(bits(withHostile), bits(try plain.finish()))
        XCTAssertNotEqual(bits(withHostile), bits(try viaDecoded(FedAvg(), u)))   // the hostile update would have shown
    }

    func testAClippedUpdateIsScaledToTheBoundAsBefore() throws {
        let u = try updates()
        let plan = UpdateScreeningPlan(maxNormMultiple: 3, action: .clip)
        let fused = ScreenedAggregation(base: FedAvg(), plan: plan)
        let old = ScreenedAggregation(base: FedAvg(), plan: plan)
        let a = try viaRecords(fused, u), b = try viaDecoded(old, u)
        guard case .clipped(let norm, let bound, let weight) = fused.screen()[5] else { return XCTFail("\(fused.screen())") }
        guard case .clipped(let norm2, let bound2, _) = old.screen()[5] else { return XCTFail("\(old.screen())") }
        XCTAssertEqual(weight, 300)
        XCTAssertEqual(norm, norm2, accuracy: norm2 * 1e-6)
        XCTAssertEqual(bound, bound2, accuracy: bound2 * 1e-6)
        // The scale factor differs from the old one only in the norm's last digits.
        for name in shapes.keys {
            for (x, y) in zip(a[name]!.data, b[name]!.data) { XCTAssertEqual(x, y, accuracy: 1e-5 * max(1, abs(y))) }
        }
        // And the hostile update did count, scaled: the result differs from leaving it out.
        let without = try viaDecoded(FedAvg(), u, participants: Array(names.prefix(5)))
        XCTAssertNotEqual(bits(a), bits(without))
    }

    func testRecordsOfUnknownTensorsOrABadSampleCountAreRefused() throws {
        let u = try updates()
        let screened = ScreenedAggregation(base: FedAvg(), plan: UpdateScreeningPlan(maxNorm: 10))
        screened.begin(round: 1, global: ["a": Tensor(shape: [3001])])
        XCTAssertThrowsError(try screened.accumulate(records: u["n0"]!, samples: 3)) { error in
            XCTAssertTrue(error is AggregationError, "\(error)")
        }
        screened.begin(round: 1, global: global)
        XCTAssertThrowsError(try screened.accumulate(records: u["n0"]!, samples: 0))
        XCTAssertEqual(screened.updateCount, 0)
        try screened.accumulate(records: u["n0"]!, samples: 3)
        XCTAssertEqual(screened.updateCount, 1)
    }

    /// A participant left out before it sent anything (an over-claimed sample count under a
    /// rejecting plan) has its update read in pieces and dropped: nothing of it is folded.
    func testPiecesOfAFailedParticipantAreDropped() throws {
        let plain = FedAvg()
        plain.begin(round: 1, global: global)
        let fold = OrderedFold(participants: ["n0", "n3"], samples: samples, strategy: plain)
        fold.fail("n0")
        XCTAssertTrue(fold.hasFailed("n0"))
        XCTAssertFalse(fold.hasFailed("n3"))
        var rng = SeededRandom(seed: 7)
        let delta = try ModelDelta(["b", "a", "c"].map { n in (n, Tensor(shape: shapes[n]!, data: (0..<shapes[n]![0]).map { _ in rng.normal() })) })
        let bytes = try DeltaEncoder(config: DeltaCodecConfig()).encode(delta)
        let decoder = DeltaStreamDecoder(expectedShapes: shapes, maxBytes: 1 << 24, messageLength: bytes.count)
        var pieces = 0
        try bytes.withUnsafeBytes { all in
            var at = 0
            while at < all.count {
                let n = min(100_000, all.count - at)
                try decoder.feed(UnsafeRawBufferPointer(rebasing: all[at..<(at + n)]), piecewise: true, pieces: { piece in
                    pieces += 1
                    try fold.offer("n0", piece: piece)
                }) { try fold.offer("n0", record: $0) }
                at += n
            }
        }
        try decoder.finish()
        XCTAssertGreaterThan(pieces, 1)
        let u = try updates()
        for r in u["n3"]! { try fold.offer("n3", record: r) }
        try fold.complete("n3")
        fold.close()
        XCTAssertEqual(fold.folded, ["n3"])
        let reference = FedAvg()
        reference.begin(round: 1, global: global)
        try reference.accumulate(try ModelDelta(u["n3"]!.map { ($0.name, $0.decoded()) }), samples: samples["n3"]!)
        XCTAssertEqual(bits(try plain.finish()), bits(try reference.finish()))
    }
}
