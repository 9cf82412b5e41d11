import CohortCheckpoint
import CohortFederation
import CohortTensor
import Foundation

/// `cohort bench aggregate`: FedAvg throughput (GB/s of update input) for K updates of P
/// float32 parameters, through the coordinator's own path: updates as a node encodes them,
/// decoded record by record (`DeltaStreamDecoder`, as chunks arrive), and folded from their
/// wire bytes in name order (`OrderedFold` → `DeltaFold`), then `finish`.
public enum AggregationBenchmark {
    /// The peer harness's split of P over 10 arrays (shared/bench/peers/aggregate_throughput.py).
    static let layerFractions = [0.30, 0.20, 0.15, 0.12, 0.10, 0.06, 0.04, 0.02, 0.009, 0.001]

    /// Tensor sizes for P parameters, rounded as the peer harness rounds them.
    public static func layerSizes(_ parameters: Int) -> [Int] {
        var sizes = layerFractions.map { Int(($0 * Double(parameters)).rounded(.toNearestOrEven)) }
        sizes[0] += parameters - sizes.reduce(0, +)
        return sizes
    }

    /// The measured figures.
    public struct Report: Codable, Sendable {
        public var bench = "aggregate_throughput"
        public var updates: Int
        public var parameters: Int
        public var tensors: Int
        /// K × P × 4: the float32 values of the updates.
        public var inputBytesPerAggregation: Int
        public var threads: Int
        /// All K updates received and waiting (as when they arrive together): one fold pass per
        /// tensor over all of them, then `finish`.
        public var millisecondsBatched: BenchTiming.Summary
        public var gigabytesPerSecondBatched: Double
        /// Each update folded as it completes, in name order (as when they arrive one after
        /// another): one pass over the sum per update.
        public var millisecondsOneAtATime: BenchTiming.Summary
        public var gigabytesPerSecondOneAtATime: Double
        /// Receiving side, per aggregation: checking the K encoded updates record by record as
        /// 1 MiB chunks arrive (structure, finiteness) and keeping each record's bytes.
        public var millisecondsDecode: BenchTiming.Summary
        /// Decode and check (structure, finiteness, each record's sum of squares for the norm),
        /// one thread, as the records are gathered from 1 MiB chunks: the copy and the checks
        /// are one pass over the values.
        public var gigabytesPerSecondDecode: Double
        /// The same gathered decode with freed record buffers kept for reuse up to one whole
        /// aggregation's records (`DeltaRecordBuffers.retainLimit` raised to K × P × 4 plus
        /// slack, as a coordinator that holds whole updates would): records land in memory
        /// already mapped and touched, so the copy is not slowed by a page fault per 4 KiB.
        /// The plain figure above runs with the default limit (0: nothing kept).
        public var millisecondsDecodePooled: BenchTiming.Summary?
        public var gigabytesPerSecondDecodePooled: Double?
        /// The default `DeltaRecordBuffers.retainLimit` in bytes, and the one of the pooled figure.
        public var recordBufferRetainLimit: Int?
        public var recordBufferRetainLimitPooled: Int?
        /// Decode and check of each whole update where it lies in memory (no copy), one thread.
        public var millisecondsDecodeInPlace: BenchTiming.Summary
        public var gigabytesPerSecondDecodeInPlace: Double
        /// Each update decoded, checked (finite, norm within a bound) and folded into the sum
        /// from its wire bytes (`CheckedUpdateFold`: the checks and the norm in one read, then
        /// the fold; a rejected update would leave the sum untouched), one update at a time.
        public var millisecondsDecodeCheckFold: BenchTiming.Summary
        public var gigabytesPerSecondDecodeCheckFold: Double
        /// The coordinator's path for the node in turn: each update fed in 1 MiB chunks, its
        /// large dense records handed out in checked 64 KiB pieces (copied once into a scratch
        /// buffer that stays in cache, checked there) and each piece folded at once, one thread.
        public var millisecondsPiecewiseCheckFold: BenchTiming.Summary
        public var gigabytesPerSecondPiecewiseCheckFold: Double
        /// The coordinator's screened path (`plan.screening`, here `UpdateScreeningPlan.standard`):
        /// the K updates' checked records held by `ScreenedAggregation` (norms from the decoder's
        /// scan), screened and folded from their wire bytes at `finish`, one thread per tensor
        /// pass as the fold. Decoding (the `decode` figure) comes before it.
        public var millisecondsScreened: BenchTiming.Summary?
        public var gigabytesPerSecondScreened: Double?
        public var maxAbsErrorVsDouble: Double
        public var method: String
    }

    /// Encoded float32 updates of the given tensor sizes: update k holds (k+1)·0.001 plus a
    /// small index pattern.
    static func encodedUpdates(_ k: Int, sizes: [Int], names: [String]) throws -> [[UInt8]] {
        try (0..<k).map { u in
            let delta = try ModelDelta(zip(names, sizes).enumerated().map { t, pair in
                (pair.0, Tensor(shape: [pair.1], data: (0..<pair.1).map { i in Float(u + 1) * 1e-3 + Float((i + t) % 7) * 1e-4 }))
            })
            return try DeltaEncoder(config: DeltaCodecConfig()).encode(delta)
        }
    }

    /// Decodes one update as a coordinator does, fed in 1 MiB pieces; returns owned records.
    static func receive(_ bytes: [UInt8], shapes: [String: [Int]]) throws -> [DeltaRecord] {
        let decoder = DeltaStreamDecoder(expectedShapes: shapes, maxBytes: bytes.count, requireAllTensors: false, messageLength: bytes.count)
        var records: [DeltaRecord] = []
        try bytes.withUnsafeBytes { all in
            var at = 0
            while at < all.count {
                let n = min(1 << 20, all.count - at)
                try decoder.feed(UnsafeRawBufferPointer(rebasing: all[at..<(at + n)])) { records.append($0.owned()) }
                at += n
            }
        }
        try decoder.finish()
        return records
    }

    /// Runs the benchmark: `repeats` timed aggregations of each kind after one warm-up.
    public static func run(updates: Int, parameters: Int, repeats: Int, progress: (String) -> Void = { _ in }) throws -> Report {
        let sizes = layerSizes(parameters)
        let names = sizes.indices.map { "layer\($0).weight" }
        let shapes = Dictionary(uniqueKeysWithValues: zip(names, sizes.map { [$0] }))
        let global = Dictionary(uniqueKeysWithValues: zip(names, sizes.map { Tensor(shape: [$0]) }))
        let participants = (0..<updates).map { String(format: "node%05d", $0) }
        let samples = Dictionary(uniqueKeysWithValues: participants.enumerated().map { ($0.element, $0.offset + 1) })
        progress("aggregate: encoding \(updates) updates of \(parameters) float32 …")
        let encoded = try encodedUpdates(updates, sizes: sizes, names: names)

        var decodeTimes: [Double] = []
        var received: [[DeltaRecord]] = []
        for r in 0..<(repeats + 1) {
            received = []
            let start = BenchTiming.now()
            for bytes in encoded { received.append(try receive(bytes, shapes: shapes)) }
            if r > 0 { decodeTimes.append((BenchTiming.now() - start) * 1000) }
        }

        // The gathered decode again, with freed record buffers kept for reuse (see the report).
        let defaultRetainLimit = DeltaRecordBuffers.retainLimit
        let pooledLimit = updates * parameters * 4 + (64 << 20)
        var pooledTimes: [Double] = []
        do {
            DeltaRecordBuffers.retainLimit = pooledLimit
            defer { DeltaRecordBuffers.retainLimit = defaultRetainLimit }
            for r in 0..<(repeats + 1) {
                received = []
                let start = BenchTiming.now()
                for bytes in encoded { received.append(try receive(bytes, shapes: shapes)) }
                if r > 0 { pooledTimes.append((BenchTiming.now() - start) * 1000) }
            }
        }

        var inPlaceTimes: [Double] = [], checkedFoldTimes: [Double] = [], piecewiseTimes: [Double] = []
        let sums = sizes.map { n -> UnsafeMutableBufferPointer<Float> in
            let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
            b.initialize(repeating: 0)
            return b
        }
        defer { for b in sums { b.deallocate() } }
        for r in 0..<(repeats + 1) {
            var start = BenchTiming.now()
            for bytes in encoded {
                let decoder = DeltaStreamDecoder(expectedShapes: shapes, maxBytes: bytes.count, requireAllTensors: false, messageLength: bytes.count)
                var sumOfSquares = 0.0
                try bytes.withUnsafeBytes { try decoder.feed($0) { sumOfSquares += $0.sumOfSquares ?? 0 } }
                try decoder.finish()
                guard sumOfSquares > 0 else { throw AggregationError("decode in place: no sum of squares") }
            }
            if r > 0 { inPlaceTimes.append((BenchTiming.now() - start) * 1000) }
            start = BenchTiming.now()
            for (k, bytes) in encoded.enumerated() {
                let weight = Float(k + 1)
                _ = try bytes.withUnsafeBytes { message in
                    try CheckedUpdateFold.fold(message, shapes: shapes, weight: weight, maxNorm: 1e6) { name in
                        names.firstIndex(of: name).map { sums[$0] }
                    }
                }
            }
            if r > 0 { checkedFoldTimes.append((BenchTiming.now() - start) * 1000) }
            start = BenchTiming.now()
            for (k, bytes) in encoded.enumerated() {
                let weight = Float(k + 1)
                let decoder = DeltaStreamDecoder(expectedShapes: shapes, maxBytes: bytes.count, requireAllTensors: false, messageLength: bytes.count)
                try bytes.withUnsafeBytes { all in
                    var at = 0
                    while at < all.count {
                        let n = min(1 << 20, all.count - at)
                        try decoder.feed(UnsafeRawBufferPointer(rebasing: all[at..<(at + n)]), piecewise: true, pieces: { piece in
                            DeltaFold.accumulate(piece, weight: weight, into: sums[names.firstIndex(of: piece.name)!])
                        }) { record in DeltaFold.accumulate(record, weight: weight, into: sums[names.firstIndex(of: record.name)!]) }
                        at += n
                    }
                }
                try decoder.finish()
            }
            if r > 0 { piecewiseTimes.append((BenchTiming.now() - start) * 1000) }
        }

        /// One aggregation; `together` completes every update before the first is in turn.
        func aggregate(together: Bool, screened: Bool = false) throws -> (ms: Double, result: [String: Tensor]) {
            let strategy: AggregationStrategy = screened ? ScreenedAggregation(base: FedAvg(), plan: .standard) as AggregationStrategy : FedAvg()
            strategy.begin(round: 1, global: global)
            let fold = OrderedFold(participants: participants, samples: samples, strategy: strategy)
            let start = BenchTiming.now()
            for k in (together ? Array((0..<updates).reversed()) : Array(0..<updates)) {
                for record in received[k] { try fold.offer(participants[k], record: record) }
                try fold.complete(participants[k])
            }
            fold.close()
            let result = try strategy.finish()
            return ((BenchTiming.now() - start) * 1000, result)
        }
        var batched: [Double] = [], single: [Double] = [], screenedTimes: [Double] = []
        var result: [String: Tensor] = [:]
        for r in 0..<(repeats + 1) {
            let (a, out) = try aggregate(together: true)
            let (b, _) = try aggregate(together: false)
            let (c, screenedOut) = try aggregate(together: true, screened: true)
            if r > 0 { batched.append(a); single.append(b); screenedTimes.append(c) }
            result = out
            // The standard screening caps the weights of this benchmark's unequal counts, so its
            // result differs from plain FedAvg's; it must still be finite and of the same tensors.
            guard screenedOut.keys.sorted() == out.keys.sorted(), screenedOut.values.allSatisfy(\.isFinite) else {
                throw AggregationError("the screened aggregate lost tensors or is not finite")
            }
        }
        // Check against a double-precision reference at a sample of coordinates.
        var maxErr = 0.0
        let weightTotal = Double(updates * (updates + 1) / 2)
        for (t, name) in names.enumerated() {
            for i in stride(from: 0, to: sizes[t], by: 4099) {
                var ref = 0.0
                for k in 0..<updates { ref += Double(k + 1) * Double(Float(k + 1) * 1e-3 + Float((i + t) % 7) * 1e-4) }
                maxErr = max(maxErr, abs(Double(result[name]!.data[i]) - ref / weightTotal))
            }
        }
        let inputBytes = updates * parameters * 4
        func rate(_ ms: Double) -> Double { Double(inputBytes) / (ms / 1000) / 1e9 }
        let report = Report(updates: updates, parameters: parameters, tensors: sizes.count, inputBytesPerAggregation: inputBytes,
                            threads: WorkerPool.shared.width,
                            millisecondsBatched: BenchTiming.Summary(batched), gigabytesPerSecondBatched: rate(BenchTiming.median(batched)),
                            millisecondsOneAtATime: BenchTiming.Summary(single), gigabytesPerSecondOneAtATime: rate(BenchTiming.median(single)),
                            millisecondsDecode: BenchTiming.Summary(decodeTimes), gigabytesPerSecondDecode: rate(BenchTiming.median(decodeTimes)),
                            millisecondsDecodePooled: BenchTiming.Summary(pooledTimes),
                            gigabytesPerSecondDecodePooled: rate(BenchTiming.median(pooledTimes)),
                            recordBufferRetainLimit: defaultRetainLimit, recordBufferRetainLimitPooled: pooledLimit,
                            millisecondsDecodeInPlace: BenchTiming.Summary(inPlaceTimes),
                            gigabytesPerSecondDecodeInPlace: rate(BenchTiming.median(inPlaceTimes)),
                            millisecondsDecodeCheckFold: BenchTiming.Summary(checkedFoldTimes),
                            gigabytesPerSecondDecodeCheckFold: rate(BenchTiming.median(checkedFoldTimes)),
                            millisecondsPiecewiseCheckFold: BenchTiming.Summary(piecewiseTimes),
                            gigabytesPerSecondPiecewiseCheckFold: rate(BenchTiming.median(piecewiseTimes)),
                            millisecondsScreened: BenchTiming.Summary(screenedTimes),
                            gigabytesPerSecondScreened: rate(BenchTiming.median(screenedTimes)),
                            maxAbsErrorVsDouble: maxErr,
                            method: "sample-weighted FedAvg of K float32 updates (tensor sizes as the peer harness) through OrderedFold and "
                                + "DeltaFold from the records a coordinator keeps (wire bytes), plus finish (global + mean); "
                                + "GB/s = K·P·4 bytes / median time. Decode = DeltaStreamDecoder over each update in 1 MiB pieces, "
                                + "keeping each record's bytes (done as chunks arrive, before aggregation), its values copied and checked "
                                + "(finite, sum of squares) in one pass; with pooled buffers = the same with freed record buffers kept for reuse "
                                + "(retain limit raised to one aggregation's records). Decode in place = the same checks on each whole update where it "
                                + "lies. Decode-check-fold = CheckedUpdateFold per update (checks and norm in one read, then the fold). "
                                + "Screened = the same held records through ScreenedAggregation(fedavg, standard screening): norms from "
                                + "the decoder's scan, kept updates folded from their wire bytes at finish.")
        progress(String(format: "aggregate %d × %d float32: batched %.1f ms (%.1f GB/s), one at a time %.1f ms (%.1f GB/s), decode %.1f ms (%.1f GB/s), "
                        + "decode with pooled buffers %.1f GB/s, decode in place %.1f GB/s, decode-check-fold %.1f GB/s, piecewise %.1f GB/s, screened %.1f GB/s",
                        updates, parameters, report.millisecondsBatched.median, report.gigabytesPerSecondBatched,
                        report.millisecondsOneAtATime.median, report.gigabytesPerSecondOneAtATime,
                        report.millisecondsDecode.median, report.gigabytesPerSecondDecode, report.gigabytesPerSecondDecodePooled ?? 0,
                        report.gigabytesPerSecondDecodeInPlace, report.gigabytesPerSecondDecodeCheckFold,
                        report.gigabytesPerSecondPiecewiseCheckFold, report.gigabytesPerSecondScreened ?? 0))
        return report
    }
}
