import XCTest
import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTensor
import Foundation

/// Issue 16, point 2: the default norm guard (`UpdateNormGuard`) of a plan that names no
/// screening, as the ordered fold applies it while updates stream in.
final class NormGuardFoldTests: XCTestCase {
    let shapes = ["a": [3001], "b": [70_003], "c": [17]]
    var global: [String: Tensor] {
        var rng = SeededRandom(seed: 50)
        return shapes.mapValues { s in Tensor(shape: s, data: (0..<s[0]).map { _ in rng.normal() }) }
    }

    func delta(seed: UInt64, scale: Float = 0.01) throws -> ModelDelta {
        var rng = SeededRandom(seed: seed)
        return try ModelDelta(["b", "a", "c"].map { n in (n, Tensor(shape: shapes[n]!, data: (0..<shapes[n]![0]).map { _ in rng.normal() * scale })) })
    }

    func records(_ delta: ModelDelta, codec: DeltaCodecConfig = DeltaCodecConfig()) throws -> [DeltaRecord] {
        let bytes = try DeltaEncoder(config: codec).encode(delta)
        let decoder = DeltaStreamDecoder(expectedShapes: shapes, maxBytes: 1 << 24, messageLength: bytes.count)
        var out: [DeltaRecord] = []
        try bytes.withUnsafeBytes { try decoder.feed($0) { out.append($0.owned()) } }
        try decoder.finish()
        return out
    }

    /// Feeds `bytes` in chunks of 10,000 bytes, piecewise: records that span chunks come in pieces.
    static func feedInChunks(_ bytes: [UInt8], to decoder: DeltaStreamDecoder, pieces: (DeltaRecordPiece) throws -> Void,
                             _ records: (DeltaRecord) throws -> Void) throws {
        var at = 0
        while at < bytes.count {
            let end = min(at + 10_000, bytes.count)
            try bytes[at..<end].withUnsafeBytes { try decoder.feed($0, piecewise: true, pieces: pieces, records) }
            at = end
        }
    }

    /// The guard's norms are the decoded values' norms, for every encoding, whole or in pieces.
    func testSquaredNormsOfRecordsAndPiecesMatchTheDecodedValues() throws {
        let d = try delta(seed: 7)
        for codec in [DeltaCodecConfig(), DeltaCodecConfig(quantization: .float16), DeltaCodecConfig(quantization: .int8(blockSize: 64)),
                      DeltaCodecConfig(topKFraction: 0.1)] {
            var wholeTotal = 0.0, decodedTotal = 0.0
            for r in try records(d, codec: codec) {
                let decoded = r.decoded().data.reduce(0.0) { $0 + Double($1) * Double($1) }
                XCTAssertEqual(r.squaredNorm, decoded, accuracy: decoded * 1e-5, "\(codec) \(r.name)")
                wholeTotal += r.squaredNorm
                decodedTotal += decoded
            }
            guard codec.topKFraction == nil else { continue }   // pieces are of dense records
            let bytes = try DeltaEncoder(config: codec).encode(d)
            let decoder = DeltaStreamDecoder(expectedShapes: shapes, maxBytes: 1 << 24, messageLength: bytes.count, pieceBytes: 4096)
            var pieceTotal = 0.0, pieces = 0
            try Self.feedInChunks(bytes, to: decoder, pieces: { pieceTotal += $0.squaredNorm; pieces += 1 }) { pieceTotal += $0.squaredNorm }
            XCTAssertGreaterThan(pieces, 5)
            XCTAssertEqual(pieceTotal, decodedTotal, accuracy: decodedTotal * 1e-5, "\(codec)")
            XCTAssertEqual(wholeTotal, decodedTotal, accuracy: decodedTotal * 1e-5, "\(codec)")
        }
    }

    /// An update over the bound that waits whole is left out without a trace: the aggregate is
    /// the others' FedAvg bit for bit, and the fold says which and why.
    func testAWholeUpdateOverTheBoundLeavesNoTrace() throws {
        let honest0 = try records(try delta(seed: 60)), honest1 = try records(try delta(seed: 61))
        var big = try delta(seed: 62)
        big = try ModelDelta(big.names.map { n in (n, Tensor(shape: big[n]!.shape, data: big[n]!.data.map { $0 * 1e30 })) })
        let hostile = try records(big)
        func run(_ updates: [(String, [DeltaRecord])], bound: Double?) throws -> (bits: [String: [UInt32]], fold: OrderedFold) {
            let strategy = FedAvg()
            strategy.begin(round: 1, global: global)
            let fold = OrderedFold(participants: updates.map(\.0), samples: ["n0": 5, "h": 9, "n1": 12], strategy: strategy, normBound: bound)
            for (name, rs) in updates.reversed() {   // arrival order does not matter
                for r in rs { try fold.offer(name, record: r) }
                try fold.complete(name)
            }
            fold.close()
            return (try strategy.finish().mapValues { $0.data.map(\.bitPattern) }, fold)
        }
        let guarded = try run([("h", hostile), ("n0", honest0), ("n1", honest1)], bound: 100)
        let reference = try run([("n0", honest0), ("n1", honest1)], bound: nil)
        XCTAssertEqual(guarded.bits, reference.bits)
        XCTAssertEqual(guarded.fold.folded, ["n0", "n1"])
        let verdict = try XCTUnwrap(guarded.fold.guarded["h"])
        XCTAssertTrue(verdict.hasPrefix("norm guard: rejected: update norm reached 2.6"), verdict)
        XCTAssertTrue(verdict.contains("over the bound 100 ("), verdict)
        XCTAssertTrue(verdict.hasSuffix("\"screening\": {} none: protocols/plan.md)"), "names the plan setting: \(verdict)")
        XCTAssertEqual(guarded.fold.rejected["h"], verdict)
        // The honest norms are recorded (about 0.01 × √73,021 ≈ 2.7) for the next round's reference.
        XCTAssertEqual(guarded.fold.norms.keys.sorted(), ["n0", "n1"])
        XCTAssertEqual(guarded.fold.norms["n0"]!, 2.7, accuracy: 0.1)
        // Without the bound, the 1e30 update is averaged in.
        let unbounded = try run([("h", hostile), ("n0", honest0), ("n1", honest1)], bound: nil)
        XCTAssertNotEqual(unbounded.bits, reference.bits)
    }

    /// A committing node's large record, folded piece by piece, is cut off before the piece that
    /// would take its norm over the bound: what was folded stays and is within the bound.
    func testACommittingUpdateIsCutOffBeforeThePieceThatCrossesTheBound() throws {
        let d0 = try delta(seed: 60)
        let n1 = try records(try delta(seed: 61, scale: 0.001))   // norm about 0.27: within the bound
        let bytes = try DeltaEncoder(config: DeltaCodecConfig()).encode(d0)
        let strategy = FedAvg()
        strategy.begin(round: 1, global: global)
        let bound = 1.5   // b's 70,003 values of about 0.01 reach it near element 22,500
        let fold = OrderedFold(participants: ["n0", "n1"], samples: ["n0": 5, "n1": 12], strategy: strategy, bufferBudget: 1000, normBound: bound)
        XCTAssertEqual(fold.reserve("n0", bytes: 5000), 0, "in turn, over the budget: commits")
        let decoder = DeltaStreamDecoder(expectedShapes: shapes, maxBytes: 1 << 24, messageLength: bytes.count, pieceBytes: 4096)
        var pieceEnds: [Int] = []
        try Self.feedInChunks(bytes, to: decoder, pieces: { piece in
            if piece.name == "b" { pieceEnds.append(piece.elements.upperBound) }
            try fold.offer("n0", piece: piece)
        }) { try fold.offer("n0", record: $0) }
        try decoder.finish()
        try fold.complete("n0")   // ignored: it was cut off
        XCTAssertTrue(fold.hasFailed("n0"))
        for r in n1 { try fold.offer("n1", record: r) }
        try fold.complete("n1")
        fold.close()
        XCTAssertEqual(fold.folded, ["n1"])
        let message = try XCTUnwrap(fold.guarded["n0"])
        XCTAssertTrue(message.hasPrefix("norm guard: cut off: update norm reached"), message)
        XCTAssertTrue(message.contains("folded before stay (within the bound) ("), message)
        let match = try XCTUnwrap(message.range(of: #"and (\d+) of the 70003 elements of 'b'"#, options: .regularExpression), message)
        let folded = try XCTUnwrap(Int(message[match].split(separator: " ")[1]))
        XCTAssertTrue(pieceEnds.contains(folded), "cut at a piece boundary")
        let b0 = d0["b"]!.data
        func squares(_ n: Int) -> Double { b0[0..<n].reduce(0.0) { $0 + Double($1) * Double($1) } }
        XCTAssertLessThanOrEqual(squares(folded).squareRoot(), bound, "what was folded is within the bound")
        let next = try XCTUnwrap(pieceEnds.first { $0 > folded })
        XCTAssertGreaterThan(squares(next).squareRoot(), bound, "the next piece would have crossed it")
        XCTAssertTrue((20_000..<26_000).contains(folded), "\(folded)")
        // b: (5·n0 + 12·n1)/17 on the folded elements, 12·n1/17 past them.
        let out = try strategy.finish(), g = global
        let b1 = n1[0].decoded().data, inv = Float(1.0 / 17.0)
        for i in [0, folded - 1, folded, 70_002] {
            let sum = i < folded ? Float(0).addingProduct(5, b0[i]).addingProduct(12, b1[i]) : Float(0).addingProduct(12, b1[i])
            XCTAssertEqual(out["b"]!.data[i].bitPattern, g["b"]!.data[i].addingProduct(sum, inv).bitPattern, "element \(i)")
        }
    }

    func testTheBoundIsTheSmallerTermAndTheFirstRoundHasOnlyTheAbsolute() {
        XCTAssertEqual(UpdateNormGuard.bound(globalNorm: 0.2, reference: nil),
                       .init(value: UpdateNormGuard.absoluteMultiple, absolute: UpdateNormGuard.absoluteMultiple, relative: nil))
        let b = UpdateNormGuard.bound(globalNorm: 30, reference: 0.01)
        XCTAssertEqual(b.absolute, 30 * UpdateNormGuard.absoluteMultiple)
        XCTAssertEqual(b.relative, 0.01 * UpdateNormGuard.relativeMultiple)
        XCTAssertEqual(b.value, 0.01 * UpdateNormGuard.relativeMultiple)
        XCTAssertEqual(UpdateNormGuard.norm([("w", Tensor(shape: [2], data: [3, 4])), ("v", Tensor(shape: [1], data: [12]))]), 13)
    }
}

/// The default norm guard over real sockets: honest `FederatedNode`s, plus a `CraftedNode` "h"
/// whose every delta element is a fixed value.
final class NormGuardFederationTests: XCTestCase {

    private func plan(screening: UpdateScreeningPlan?) -> TrainingPlan {
        var plan = TrainingPlan()
        plan.learningRate = 0.5
        plan.batchSize = 8
        plan.screening = screening
        return plan
    }

    /// Runs `rounds` rounds with honest nodes a…d and, when `hostile` is given, crafted node "h";
    /// returns the final global weights' bits and the round records.
    private func federate(plan: TrainingPlan, hostile: Float?, rounds: Int = 3) throws -> (bits: [UInt32], records: [Coordinator.RoundRecord]) {
        let honest = ["a", "b", "c", "d"]
        let (final, records) = try HostileNodeFederation.run(names: honest + (hostile == nil ? [] : ["h"]), plan: plan, attack: nil,
                                                             crafted: hostile, quorum: honest.count, rounds: rounds)
        return (final.tensors.flatMap { $0.value.data.map(\.bitPattern) }, records)
    }

    func testAnUpdateOf1e30Or3_4e38IsRejectedAndTheAggregateIsTheHonestFedAvg() throws {
        let reference = try federate(plan: plan(screening: nil), hostile: nil)
        for value: Float in [1e30, 3.4e38] {
            let guarded = try federate(plan: plan(screening: nil), hostile: value)
            XCTAssertEqual(guarded.records.count, 3, "every round ran (\(value))")
            XCTAssertEqual(guarded.bits, reference.bits, "the FedAvg of the honest updates, bit for bit (\(value))")
            for record in guarded.records {
                XCTAssertEqual(record.accepted, ["a", "b", "c", "d"], "round \(record.round)")
                let verdict = try XCTUnwrap(record.rejected["h"], "round \(record.round)")
                XCTAssertTrue(verdict.hasPrefix("norm guard: rejected: update norm reached"), verdict)
                XCTAssertEqual(record.screening?["h"], verdict)
                XCTAssertNil(record.unapplied)
                XCTAssertEqual(record.normGuard?.norms.keys.sorted(), ["a", "b", "c", "d"])
            }
        }
        // Contrast: with "screening": {} (no bounds at all) 1e30 poisons the model.
        let unbounded = try federate(plan: plan(screening: UpdateScreeningPlan()), hostile: 1e30, rounds: 1)
        XCTAssertTrue(unbounded.records[0].accepted.contains("h"))
        XCTAssertNil(unbounded.records[0].normGuard)
    }

    /// On honest runs the guard never fires, so the model is the same bits with and without it.
    func testHonestRunsAreBitIdenticalWithAndWithoutTheGuard() throws {
        let guarded = try federate(plan: plan(screening: nil), hostile: nil, rounds: 4)
        let off = try federate(plan: plan(screening: UpdateScreeningPlan()), hostile: nil, rounds: 4)
        XCTAssertEqual(guarded.bits, off.bits)
        for (k, record) in guarded.records.enumerated() {
            XCTAssertEqual(record.rejected, [:], "round \(record.round)")
            XCTAssertNil(record.screening)
            let g = try XCTUnwrap(record.normGuard)
            XCTAssertEqual(g.norms.count, 4)
            XCTAssertLessThan(g.norms.values.max()!, g.bound, "round \(record.round)")
            print("norm guard: round \(record.round): largest honest norm / bound = \(g.norms.values.max()! / g.bound)")
            XCTAssertEqual(g.relative == nil, k == 0, "only the first round lacks the relative term")
            if k > 0 {
                XCTAssertEqual(g.relative, guarded.records[k - 1].normGuard!.median! * UpdateNormGuard.relativeMultiple)
            }
            XCTAssertNil(off.records[k].normGuard)
        }
    }
}

/// The guard's reference (the previous round's median norm) comes from the journal, so a
/// resumed run holds updates to the same bound as an uninterrupted one.
final class NormGuardResumeTests: XCTestCase {
    private let head = [("head.weight", [2, 2]), ("head.bias", [2])]
    private let names = ["a", "b", "c", "h"]

    /// Runs rounds up to `rounds` in `outDir` (resuming from its journal when `resume`) with
    /// crafted nodes: a, b, c send 0.01 in every element, h sends 0.6 (norm √6 · 0.6 ≈ 1.47:
    /// within the first round's absolute bound, over 50 × the honest median √6 · 0.01 ≈ 1.22).
    private func run(outDir: String, rounds: Int, resume: Bool) throws -> [Coordinator.RoundRecord] {
        let model = try Sequential(spec: ModelSpec(inputShape: [2], layers: [LayerSpec(.dense, name: "head", units: 2)]), seed: 1)
        let (template, cleanup) = try TinyFederation.coordinator(nodes: names) { config in
            config.rounds = rounds
            config.minNodes = names.count
            config.quorum = 1
            config.roundTimeout = 20
            config.finalEvaluation = false
            config.plan = TrainingPlan()
        }
        cleanup()
        var config = template.config
        config.outDir = outDir
        let (initial, completed) = resume ? try Coordinator.loadJournal(outDir: outDir)
                                          : (Checkpoint(model: model, metadata: CheckpointMetadata(source: "test")), [])
        let coordinator = try Coordinator(config: config, initial: initial, strategy: FedAvg(), completed: completed)
        let done = names.enumerated().map { i, name in
            CraftedNode.start(port: coordinator.port, name: name, secret: TinyFederation.secret(i), samples: 8,
                              delta: head.map { ($0.0, $0.1, name == "h" ? 0.6 : 0.01) })
        }
        let records = try coordinator.run()
        for d in done { XCTAssertEqual(d.wait(timeout: .now() + 30), .success) }
        return records
    }

    func testAResumedRunKeepsTheBoundFromTheJournal() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-guard-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: base) }
        let straight = base.appendingPathComponent("straight").path, resumed = base.appendingPathComponent("resumed").path
        _ = try run(outDir: straight, rounds: 2, resume: false)
        _ = try run(outDir: resumed, rounds: 1, resume: false)
        _ = try run(outDir: resumed, rounds: 2, resume: true)
        let a = try Coordinator.loadRoundRecords(outDir: straight), b = try Coordinator.loadRoundRecords(outDir: resumed)
        XCTAssertEqual(a.count, 2)
        XCTAssertEqual(b.count, 2)
        // Round 1: only the absolute term, h accepted; round 2: 50 × round 1's median, h rejected.
        XCTAssertTrue(a[0].accepted.contains("h"))
        for records in [a, b] {
            XCTAssertEqual(records[1].accepted, ["a", "b", "c"])
            XCTAssertTrue(records[1].rejected["h"]?.hasPrefix("norm guard: rejected") ?? false, "\(records[1].rejected)")
            XCTAssertEqual(records[1].normGuard?.relative, records[0].normGuard!.median! * UpdateNormGuard.relativeMultiple)
        }
        XCTAssertEqual(a.map(\.normGuard), b.map(\.normGuard))
        let wa = try CheckpointFile.load((straight as NSString).appendingPathComponent("global.ckpt")).tensors.flatMap { $0.value.data.map(\.bitPattern) }
        let wb = try CheckpointFile.load((resumed as NSString).appendingPathComponent("global.ckpt")).tensors.flatMap { $0.value.data.map(\.bitPattern) }
        XCTAssertEqual(wa, wb, "bit-identical to the uninterrupted run")
    }
}
