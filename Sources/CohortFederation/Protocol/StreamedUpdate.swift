import CohortCheckpoint
import CohortTensor
import CohortTransport
import Foundation

extension RoundMessages {
    /// Whether a node's UPDATE under `plan` is a plain dense float32 delta (the default codec:
    /// no top-k, no quantisation, no zlib, no central-DP clipping), which `updateMessage`
    /// streams without building the delta or the message.
    public static func streamsDenseUpdate(_ plan: TrainingPlan) -> Bool {
        plan.codec.topKFraction == nil && plan.codec.zlibLevel == nil && plan.privacy == nil && {
            if case .none = plan.codec.quantization { return true }
            return false
        }()
    }

    /// An UPDATE message: the header (`metrics` gets `update_bytes`, the body's size), then
    /// `local − global` for each tensor of `names` in that order as a dense float32 delta-codec
    /// body, byte for byte what `DeltaEncoder(config: DeltaCodecConfig()).encode(ModelDelta(local:global:trainable:))`
    /// gives. No delta and no message is built: each chunk's values are computed from the two
    /// models as the chunk is sent, and checksummed then (`checksumsWhenSent`: one pass over
    /// both models). A non-finite difference (`ModelDeltaError`, as the encoder throws) or a
    /// failed read of the spilled global stops the send before the chunk that holds it.
    public static func updateMessage(_ header: UpdateHeader, local: [String: Tensor], global: [String: Tensor], names: [String],
                                     chunkSize: Int = StreamedMessage.defaultChunkSize) throws -> StreamedMessage {
        try updateMessage(header, local: local, global: global, spill: nil, names: names, chunkSize: chunkSize)
    }

    /// The same, the global values of the tensors `global` lacks read from `spill` (a node's
    /// `GlobalSpill`) a chunk at a time.
    static func updateMessage(_ header: UpdateHeader, local: [String: Tensor], global: [String: Tensor], spill: GlobalSpill?, names: [String],
                              chunkSize: Int = StreamedMessage.defaultChunkSize) throws -> StreamedMessage {
        var pairs: [(name: String, local: Tensor, global: DeltaDifferences.Global)] = []
        for name in names {
            guard let a = local[name] else { throw ModelDeltaError("trainable tensor '\(name)' is not in the local state") }
            let b: DeltaDifferences.Global, shape: [Int]
            if let t = global[name] {
                (b, shape) = (.tensor(t), t.shape)
            } else if let file = spill, let entry = file.entries[name] {
                (b, shape) = (.spilled(file), entry.shape)
            } else {
                throw ModelDeltaError("trainable tensor '\(name)' is in the local state but not in the global state")
            }
            guard a.shape == shape else { throw ModelDeltaError("tensor '\(name)': local shape \(a.shape) differs from global shape \(shape)") }
            pairs.append((name, a, b))
        }
        let layout = try DeltaEncoder.float32Layout(pairs.map { ($0.name, $0.local.shape) })
        let bodyBytes = layout.reduce(0) { total, part in
            switch part {
            case .bytes(let b): return total + b.count
            case .values(_, let count): return total + 4 * count
            }
        }
        var header = header
        header.metrics["update_bytes"] = Double(bodyBytes)
        let json = Array(try JSONEncoder().encode(header))
        let differences = DeltaDifferences()
        let segments = layout.map { part -> MessageSegment in
            switch part {
            case .bytes(let b): return .bytes(b)
            case .values(let index, let count):
                let pair = pairs[index]
                return .generated(count: 4 * count) { range, body in
                    try differences.produce(pair.name, pair.local, pair.global, bytes: range, body)
                }
            }
        }
        return StreamedMessage(type: MessageType.update.rawValue, segments: [.bytes(headerLength(json.count) + json)] + segments,
                               chunkSize: chunkSize, checksumsWhenSent: true)
    }
}

/// Makes `local − global` values a byte range at a time in one scratch buffer; throws at the
/// first non-finite difference, or when the spilled global cannot be read.
final class DeltaDifferences: @unchecked Sendable {
    /// Where a tensor's global values are.
    enum Global {
        case tensor(Tensor)
        /// In the node's temporary file, read a range at a time.
        case spilled(GlobalSpill)
    }

    private var scratch: UnsafeMutablePointer<Float>?
    private var capacity = 0
    /// The global values of the range, read from a `GlobalSpill`.
    private var read: UnsafeMutablePointer<Float>?
    private var readCapacity = 0

    deinit { scratch?.deallocate(); read?.deallocate() }

    /// Calls `body` with bytes `range` of tensor `name`'s float32 difference values.
    func produce(_ name: String, _ local: Tensor, _ global: Global, bytes range: Range<Int>,
                 _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let first = range.lowerBound / 4, end = (range.upperBound + 3) / 4, n = end - first
        guard n > 0 else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        let out = Self.buffer(&scratch, capacity: &capacity, count: n)
        let finite: Bool
        switch global {
        case .tensor(let g):
            finite = local.data.withUnsafeBufferPointer { a in
                g.data.withUnsafeBufferPointer { b in Self.subtract(a.baseAddress! + first, b.baseAddress! + first, into: out, count: n) }
            }
        case .spilled(let file):
            let held = Self.buffer(&read, capacity: &readCapacity, count: n)
            try file.read(name, elements: first..<end, into: held)
            finite = local.data.withUnsafeBufferPointer { a in Self.subtract(a.baseAddress! + first, held, into: out, count: n) }
        }
        if !finite, let j = (0..<n).first(where: { !out[$0].isFinite }) {
            throw ModelDeltaError("tensor '\(name)': delta is \(out[j]) at element \(first + j) (values must be finite)")
        }
        try body(UnsafeRawBufferPointer(start: UnsafeRawPointer(out) + (range.lowerBound - 4 * first), count: range.count))
    }

    /// `buffer`, grown to hold at least `count` floats.
    private static func buffer(_ buffer: inout UnsafeMutablePointer<Float>?, capacity: inout Int, count: Int) -> UnsafeMutablePointer<Float> {
        if let b = buffer, capacity >= count { return b }
        buffer?.deallocate()
        let grown = UnsafeMutablePointer<Float>.allocate(capacity: count)
        buffer = grown
        capacity = count
        return grown
    }

    /// `out = a − b` (the same operation, bit for bit, as the delta encoder's); whether every
    /// result is finite.
    static func subtract(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) -> Bool {
        let ar = UnsafeRawPointer(a), br = UnsafeRawPointer(b), orr = UnsafeMutableRawPointer(out)
        let exponent = SIMD8<UInt32>(repeating: 0x7F80_0000)
        var worst = SIMD8<UInt32>(repeating: 0)
        var i = 0
        while i &+ 8 <= count {
            let d = ar.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self) - br.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
            orr.storeBytes(of: d, toByteOffset: i &* 4, as: SIMD8<Float>.self)
            worst = pointwiseMax(worst, unsafeBitCast(d, to: SIMD8<UInt32>.self) & exponent)
            i &+= 8
        }
        var finite = worst.max() != 0x7F80_0000
        while i < count {
            out[i] = a[i] - b[i]
            finite = finite && out[i].isFinite
            i &+= 1
        }
        return finite
    }
}
