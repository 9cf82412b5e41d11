import XCTest
import CohortCheckpoint
import CohortFederation
import CohortTensor

/// The coordinator's ordered fold: arrival order and batching never change the aggregate's
/// bits; an update cut off mid-stream keeps exactly the records already folded; later nodes
/// are held within the buffer budget, the node in turn never.
final class OrderedFoldTests: XCTestCase {
    let shapes = ["a": [3001], "b": [70_003], "c": [17]]
    var global: [String: Tensor] {
        var rng = SeededRandom(seed: 50)
        return shapes.mapValues { s in Tensor(shape: s, data: (0..<s[0]).map { _ in rng.normal() }) }
    }
    let names = ["n0", "n1", "n2", "n3", "n4", "n5"]
    let samples = ["n0": 5, "n1": 12, "n2": 1, "n3": 40, "n4": 7, "n5": 3]

    /// Each node's update as checked records in wire order (codecs differ by node).
    func updates() throws -> [String: [DeltaRecord]] {
        let configs = [DeltaCodecConfig(), DeltaCodecConfig(quantization: .int8(blockSize: 64)), DeltaCodecConfig(topKFraction: 0.1),
                       DeltaCodecConfig(), DeltaCodecConfig(quantization: .float16, zlibLevel: 1), DeltaCodecConfig()]
        var out: [String: [DeltaRecord]] = [:]
        for (k, name) in names.enumerated() {
            var rng = SeededRandom(seed: 60 + UInt64(k))
            let delta = try ModelDelta(["b", "a", "c"].map { n in (n, Tensor(shape: shapes[n]!, data: (0..<shapes[n]![0]).map { _ in rng.normal() * 0.01 })) })
            let bytes = try DeltaEncoder(config: configs[k]).encode(delta)
            let decoder = DeltaStreamDecoder(expectedShapes: shapes, maxBytes: 1 << 24, messageLength: bytes.count)
            var records: [DeltaRecord] = []
            try bytes.withUnsafeBytes { try decoder.feed($0) { records.append($0.owned()) } }
            try decoder.finish()
            out[name] = records
        }
        return out
    }

    /// Runs one round of FedAvg through an ordered fold, offering records in `events` order
    /// (node, record index; index nil = the update is complete).
    func aggregate(_ events: [(String, Int?)], updates: [String: [DeltaRecord]], strategy: AggregationStrategy = FedAvg()) throws -> [String: Tensor] {
        strategy.begin(round: 1, global: global)
        let fold = OrderedFold(participants: names, samples: samples, strategy: strategy)
        for (name, index) in events {
            if let index { try fold.offer(name, record: updates[name]![index]) } else { try fold.complete(name) }
        }
        fold.close()
        XCTAssertEqual(fold.folded, names)
        return try strategy.finish()
    }

    func bits(_ state: [String: Tensor]) -> [String: [UInt32]] { state.mapValues { $0.data.map(\.bitPattern) } }

    func testArrivalOrderAndBatchingDoNotChangeTheBits() throws {
        let u = try updates()
        func whole(_ order: [String]) -> [(String, Int?)] { order.flatMap { n in (0..<3).map { (n, Optional($0)) } + [(n, nil)] } }
        let inOrder = try aggregate(whole(names), updates: u)
        XCTAssertEqual(bits(try aggregate(whole(names.reversed()), updates: u)), bits(inOrder), "all buffered, one batch")
        var rng = SeededRandom(seed: 70)
        for trial in 0..<5 {
            // Records of all nodes interleaved at random, each node's in its own order.
            var pending = Dictionary(uniqueKeysWithValues: names.map { ($0, whole([$0])) })
            var events: [(String, Int?)] = []
            while !pending.isEmpty {
                let name = pending.keys.sorted()[rng.int(below: pending.count)]
                events.append(pending[name]!.removeFirst())
                if pending[name]!.isEmpty { pending[name] = nil }
            }
            XCTAssertEqual(bits(try aggregate(events, updates: u)), bits(inOrder), "interleaving \(trial)")
        }
        // The same as decoding every update and accumulating it whole, in name order.
        let reference = FedAvg()
        reference.begin(round: 1, global: global)
        for n in names { try reference.accumulate(try ModelDelta(u[n]!.map { ($0.name, $0.decoded()) }), samples: samples[n]!) }
        XCTAssertEqual(bits(try reference.finish()), bits(inOrder))
    }

    func testACutOffUpdateLeavesNoTraceUnlessItHadToCommitRecordsOverTheBudget() throws {
        let u = try updates()
        // Within the budget an update is folded whole or not at all.
        let whole = FedAvg()
        whole.begin(round: 1, global: global)
        let roomy = OrderedFold(participants: ["n0", "n1"], samples: samples, strategy: whole)
        try roomy.offer("n0", record: u["n0"]![0])
        roomy.fail("n0")
        for r in u["n1"]! { try roomy.offer("n1", record: r) }
        try roomy.complete("n1")
        roomy.close()
        XCTAssertEqual(roomy.folded, ["n1"])
        XCTAssertEqual(roomy.rejected, [:])
        let onlyN1 = FedAvg()
        onlyN1.begin(round: 1, global: global)
        try onlyN1.accumulate(try ModelDelta(u["n1"]!.map { ($0.name, $0.decoded()) }), samples: samples["n1"]!)
        XCTAssertEqual(bits(try whole.finish()), bits(try onlyN1.finish()))

        // Over the budget the node in turn commits records as they arrive; cut off, they stay.
        let strategy = FedAvg()
        strategy.begin(round: 1, global: global)
        let fold = OrderedFold(participants: ["n0", "n1", "n2"], samples: samples, strategy: strategy, bufferBudget: 1000)
        XCTAssertEqual(fold.reserve("n2", bytes: 900), 900)
        try fold.offer("n2", record: u["n2"]![0])        // waits (its turn has not come)
        XCTAssertEqual(fold.reserve("n0", bytes: 500), 0, "in turn, over the budget: commits instead of waiting")
        try fold.offer("n0", record: u["n0"]![0])        // folded at once ("b")
        fold.fail("n0")
        fold.fail("n2")
        XCTAssertEqual(fold.heldBytes, 0)
        for r in u["n1"]! { try fold.offer("n1", record: r) }
        try fold.complete("n1")
        fold.close()
        XCTAssertEqual(fold.folded, ["n1"])
        XCTAssertEqual(fold.rejected, ["n0": "cut off after 1 tensor record(s), which were aggregated (the update did not fit the buffer budget)"])
        XCTAssertThrowsError(try fold.offer("n2", record: u["n2"]![1])) { XCTAssertEqual("\($0)", "arrived after the round closed") }
        // "b" is the (5·n0 + 12·n1)/17 mean; "a" and "c" are n1's alone; n2 counts nowhere.
        let next = try strategy.finish()
        let g = global
        let b0 = u["n0"]![0].decoded().data, b1 = u["n1"]![0].decoded().data
        var sum = [Float](repeating: 0, count: b0.count)
        for i in sum.indices { sum[i] = Float(0).addingProduct(5, b0[i]).addingProduct(12, b1[i]) }
        let inv = Float(1.0 / 17.0)
        XCTAssertEqual(next["b"]!.data.map(\.bitPattern), sum.indices.map { g["b"]!.data[$0].addingProduct(sum[$0], inv).bitPattern })
        let a1 = u["n1"]![1].decoded().data
        XCTAssertEqual(next["a"]!.data[7], g["a"]!.data[7].addingProduct(Float(0).addingProduct(12, a1[7]), Float(1.0 / 12.0)))
    }

    /// A committing node's large record is folded piece by piece as it arrives; cut off mid-record,
    /// exactly the elements folded stay (as a sparse record of them would), the rest count as zero.
    func testACommittingNodeFoldsPiecesAndACutOffRecordKeepsExactlyItsFoldedElements() throws {
        let u = try updates()
        var rng = SeededRandom(seed: 60)   // n0's update, as updates() makes it: float32, records b, a, c
        let delta = try ModelDelta(["b", "a", "c"].map { n in (n, Tensor(shape: shapes[n]!, data: (0..<shapes[n]![0]).map { _ in rng.normal() * 0.01 })) })
        let bytes = try DeltaEncoder(config: DeltaCodecConfig()).encode(delta)
        let strategy = FedAvg()
        strategy.begin(round: 1, global: global)
        let fold = OrderedFold(participants: ["n0", "n1"], samples: samples, strategy: strategy, bufferBudget: 1000)
        XCTAssertFalse(fold.foldsPieces("n0"))
        XCTAssertEqual(fold.reserve("n0", bytes: 5000), 0, "in turn, over the budget: commits")
        XCTAssertTrue(fold.foldsPieces("n0"))
        let decoder = DeltaStreamDecoder(expectedShapes: shapes, maxBytes: 1 << 24, messageLength: bytes.count, pieceBytes: 4096)
        var pieces = 0
        try bytes[0..<100_000].withUnsafeBytes { b in   // about 25,000 of b's 70,003 values
            try decoder.feed(b, piecewise: true, pieces: { piece in pieces += 1; try fold.offer("n0", piece: piece) }) { _ in
                XCTFail("b is larger than a piece: it must not come whole")
            }
        }
        XCTAssertGreaterThan(pieces, 5)
        fold.fail("n0")
        XCTAssertFalse(fold.foldsPieces("n0"))
        for r in u["n1"]! { try fold.offer("n1", record: r) }
        try fold.complete("n1")
        fold.close()
        XCTAssertEqual(fold.folded, ["n1"])
        let message = try XCTUnwrap(fold.rejected["n0"])
        let folded = try XCTUnwrap(Int(message.split(separator: " ")[7]), message)
        XCTAssertEqual(message, "cut off after 0 tensor record(s) and \(folded) of the 70003 elements of 'b', which were aggregated (the update did not fit the buffer budget)")
        XCTAssertTrue((20_000..<30_000).contains(folded), "\(folded)")
        // b: (5·n0 + 12·n1)/17 on the folded elements, 12·n1/17 past them; a and c: n1's alone.
        let next = try strategy.finish(), g = global
        let b0 = delta["b"]!.data, b1 = u["n1"]![0].decoded().data, inv = Float(1.0 / 17.0)
        for i in [0, folded - 1, folded, 70_002] {
            let sum = i < folded ? Float(0).addingProduct(5, b0[i]).addingProduct(12, b1[i]) : Float(0).addingProduct(12, b1[i])
            XCTAssertEqual(next["b"]!.data[i].bitPattern, g["b"]!.data[i].addingProduct(sum, inv).bitPattern, "element \(i)")
        }
        let a1 = u["n1"]![1].decoded().data
        XCTAssertEqual(next["a"]!.data[7], g["a"]!.data[7].addingProduct(Float(0).addingProduct(12, a1[7]), Float(1.0 / 12.0)))
    }

    func testLaterNodesAreHeldWithinTheBudgetAndTheNodeInTurnNever() throws {
        let u = try updates()
        let strategy = FedAvg()
        strategy.begin(round: 1, global: global)
        let fold = OrderedFold(participants: ["n0", "n1", "n2"], samples: samples, strategy: strategy, bufferBudget: 1000)
        XCTAssertEqual(fold.reserve("n1", bytes: 600), 600)
        XCTAssertNil(fold.reserve("n2", bytes: 600), "over the budget: wait")
        fold.read("n1", reserved: 600, received: 100)
        XCTAssertEqual(fold.heldBytes, 100)
        XCTAssertEqual(fold.reserve("n2", bytes: 600), 600)
        XCTAssertNil(fold.reserve("n1", bytes: 400))
        XCTAssertEqual(fold.reserve("n0", bytes: 1 << 20), 0, "the node in turn never waits")
        // n0 finishes: n1 is in turn and keeps its bytes until it needs more room.
        for r in u["n0"]! { try fold.offer("n0", record: r) }
        try fold.offer("n1", record: u["n1"]![0])
        try fold.complete("n0")
        XCTAssertTrue(fold.isInTurn("n1"))
        XCTAssertEqual(fold.heldBytes, 700)
        XCTAssertEqual(fold.reserve("n1", bytes: 400), 0, "in turn and over the budget: commits what it holds")
        XCTAssertEqual(fold.heldBytes, 600, "only n2's reservation is left")
        fold.fail("n2")
        XCTAssertEqual(fold.heldBytes, 0)
    }

    func testWholeUpdateStrategiesGetOnlyCompleteUpdates() throws {
        let u = try updates()
        let robust = RobustAggregation(.median)
        robust.begin(round: 1, global: global)
        let fold = OrderedFold(participants: ["n0", "n1", "n3"], samples: samples, strategy: robust)
        try fold.offer("n0", record: u["n0"]![0])
        fold.fail("n0")                                   // cut off: nothing of it counts
        for n in ["n3", "n1"] { for r in u[n]! { try fold.offer(n, record: r) }; try fold.complete(n) }
        fold.close()
        XCTAssertEqual(fold.folded, ["n1", "n3"])
        XCTAssertEqual(fold.rejected, [:])
        let reference = RobustAggregation(.median)
        reference.begin(round: 1, global: global)
        for n in ["n1", "n3"] { try reference.accumulate(try ModelDelta(u[n]!.map { ($0.name, $0.decoded()) }), samples: samples[n]!) }
        XCTAssertEqual(bits(try robust.finish()), bits(try reference.finish()))
    }
}
