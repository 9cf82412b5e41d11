import CohortTensor

/// Encodes a `ModelDelta` into the binary delta format (`protocols/delta-codec.md`) through
/// the chain its `DeltaCodecConfig` describes: top-k sparsification (with error feedback when
/// an `ErrorFeedback` state is given) → float16 / int8 quantisation → zlib over the body.
///
/// Work is linear in the number of elements: one pass to add the residual and check values
/// are finite, an expected-O(n) top-k selection, one quantisation pass over the sent values,
/// and zlib over the (small) encoded body. No per-element allocation.
public struct DeltaEncoder: Sendable {
    /// The chain this encoder applies.
    public let config: DeltaCodecConfig

    /// An encoder for a validated configuration.
    public init(config: DeltaCodecConfig) throws(ModelDeltaError) {
        try config.validate()
        self.config = config
    }

    /// Encodes `delta` as is (no error feedback). Throws if a value is not finite or a tensor
    /// exceeds the format's limits.
    public func encode(_ delta: ModelDelta) throws(ModelDeltaError) -> [UInt8] {
        try encode(delta, feedback: nil).message
    }

    /// Encodes `delta + residual` and updates `feedback` to what was left out (see
    /// `ErrorFeedback`). On error, `feedback` is unchanged.
    public func encode(_ delta: ModelDelta, feedback: inout ErrorFeedback) throws(ModelDeltaError) -> [UInt8] {
        let (message, residuals) = try encode(delta, feedback: Optional(feedback))
        for (name, r) in residuals { feedback.residuals[name] = r }
        return message
    }

    /// One tensor's record, planned before anything is written.
    private struct Plan {
        var name: String
        var shape: [Int]
        var source: [Float]           // delta (no feedback) or delta + residual (feedback)
        var indices: [UInt32]?        // sparse layout: the sent elements, ascending
        var sentCount: Int
    }

    private var encoding: DeltaValueEncoding {
        switch config.quantization {
        case .none: .float32
        case .float16: .float16
        case .int8: .int8
        }
    }

    private var blockSize: Int {
        if case .int8(let b) = config.quantization { return b }
        return 0
    }

    private func encode(_ delta: ModelDelta, feedback: ErrorFeedback?) throws(ModelDeltaError) -> (message: [UInt8], residuals: [String: Tensor]) {
        guard delta.count <= DeltaFormat.maxTensors else {
            throw ModelDeltaError("delta has \(delta.count) tensors, over the format's limit of \(DeltaFormat.maxTensors)")
        }
        var plans: [Plan] = []
        plans.reserveCapacity(delta.count)
        for name in delta.names {
            let tensor = delta.tensors[name]!
            try Self.checkLimits(name, tensor)
            var source = tensor.data
            if let feedback {
                if let r = feedback.residuals[name] {
                    guard r.shape == tensor.shape else {
                        throw ModelDeltaError("tensor '\(name)': error-feedback residual has shape \(r.shape), the delta has \(tensor.shape) (reset the feedback after a model change)")
                    }
                    source = [Float].uninitialized(count: tensor.count)
                    let finite = source.withUnsafeMutableBufferPointer { o in
                        tensor.data.withUnsafeBufferPointer { d in
                            r.data.withUnsafeBufferPointer { DeltaKernels.add(d.baseAddress, $0.baseAddress, into: o.baseAddress, count: d.count) }
                        }
                    }
                    if !finite, let bad = source.firstIndex(where: { !$0.isFinite }) {
                        throw ModelDeltaError("tensor '\(name)': delta + error-feedback residual is \(source[bad]) at element \(bad) (values must be finite)")
                    }
                }
            }
            if let bad = source.withUnsafeBytes({ DeltaKernels.firstNonFinite($0.baseAddress, count: tensor.count) }) {
                throw ModelDeltaError("tensor '\(name)': delta is \(source[bad]) at element \(bad) (values must be finite)")
            }
            let k = config.sentCount(of: tensor.count)
            let indices = config.topKFraction != nil && k < tensor.count
                ? source.withUnsafeBufferPointer { TopKSelection.select($0.baseAddress, count: $0.count, k: k) } : nil
            plans.append(Plan(name: name, shape: tensor.shape, source: source, indices: indices, sentCount: k))
        }

        let bodyBound = plans.reduce(0) { $0 + recordBound($1) }
        let keep = feedback != nil
        var message: [UInt8]
        if let level = config.zlibLevel {
            var bodySize = 0
            let body = [UInt8](unsafeUninitializedCapacity: max(bodyBound, 1)) { buf, done in
                var w = RawWriter(base: UnsafeMutableRawPointer(buf.baseAddress!), capacity: bodyBound)
                for i in plans.indices { writeRecord(&plans[i], to: &w, keepResidual: keep) }
                bodySize = w.offset
                done = w.offset
            }
            let packed = body.withUnsafeBytes { Zlib.compress($0, level: level) }
            message = [UInt8](unsafeUninitializedCapacity: DeltaFormat.headerSize + packed.count) { buf, done in
                let base = UnsafeMutableRawPointer(buf.baseAddress!)
                Self.writeHeader(base, flags: DeltaFormat.flagZlib, tensors: plans.count, bodySize: bodySize, storedSize: packed.count)
                packed.withUnsafeBytes { (base + DeltaFormat.headerSize).copyMemory(from: $0.baseAddress!, byteCount: packed.count) }
                done = DeltaFormat.headerSize + packed.count
            }
        } else {
            let capacity = DeltaFormat.headerSize + bodyBound
            message = [UInt8](unsafeUninitializedCapacity: capacity) { buf, done in
                let base = UnsafeMutableRawPointer(buf.baseAddress!)
                var w = RawWriter(base: base, capacity: capacity, offset: DeltaFormat.headerSize)
                for i in plans.indices { writeRecord(&plans[i], to: &w, keepResidual: keep) }
                let bodySize = w.offset - DeltaFormat.headerSize
                Self.writeHeader(base, flags: 0, tensors: plans.count, bodySize: bodySize, storedSize: bodySize)
                done = w.offset
            }
        }
        var residuals: [String: Tensor] = [:]
        if keep { for p in plans { residuals[p.name] = Tensor(shape: p.shape, data: p.source) } }
        return (message, residuals)
    }

    private static func checkLimits(_ name: String, _ t: Tensor) throws(ModelDeltaError) {
        try checkLimits(name, shape: t.shape, count: t.count)
    }

    private static func checkLimits(_ name: String, shape: [Int], count: Int) throws(ModelDeltaError) {
        let rank = shape.count
        let nameBytes = name.utf8.count
        guard (1...DeltaFormat.maxNameBytes).contains(nameBytes) else {
            throw ModelDeltaError("tensor '\(name)': name is \(nameBytes) UTF-8 bytes, allowed 1...\(DeltaFormat.maxNameBytes)")
        }
        guard rank <= DeltaFormat.maxRank else {
            throw ModelDeltaError("tensor '\(name)': rank \(rank) exceeds the format's limit of \(DeltaFormat.maxRank)")
        }
        guard count <= DeltaFormat.maxElementsPerTensor, shape.allSatisfy({ $0 <= DeltaFormat.maxElementsPerTensor }) else {
            throw ModelDeltaError("tensor '\(name)': \(count) elements exceed the format's limit of \(DeltaFormat.maxElementsPerTensor)")
        }
    }

    /// Upper bound on a record's bytes.
    private func recordBound(_ p: Plan) -> Int {
        let fixed = 2 + p.name.utf8.count + 1 + 4 * p.shape.count + 1 + 1 + 4 + 4
        let index = p.indices == nil ? 0 : 4 + DeltaFormat.maxVarintBytes * p.sentCount
        return fixed + index + ValueCoding.storedBytes(count: p.sentCount, encoding: encoding, blockSize: max(blockSize, 1))
    }

    /// Writes the fixed part of a record (`DeltaRecordHeader` reads it back).
    private static func writeRecordHeader(name: String, shape: [Int], encoding: DeltaValueEncoding, layout: DeltaLayout, blockSize: Int,
                                          count: Int, to w: inout RawWriter) {
        w.u16(UInt16(name.utf8.count))
        w.bytes(name.utf8)
        w.u8(UInt8(shape.count))
        for d in shape { w.u32(UInt32(d)) }
        w.u8(encoding.rawValue)
        w.u8(layout.rawValue)
        w.u32(UInt32(blockSize))
        w.u32(UInt32(count))
    }

    /// Writes one record; with `keepResidual`, leaves `plan.source` holding the new residual.
    private func writeRecord(_ plan: inout Plan, to w: inout RawWriter, keepResidual: Bool) {
        Self.writeRecordHeader(name: plan.name, shape: plan.shape, encoding: encoding, layout: plan.indices == nil ? .dense : .sparse,
                               blockSize: blockSize, count: plan.sentCount, to: &w)
        let encoding = self.encoding, blockSize = self.blockSize
        if let indices = plan.indices {
            let lengthAt = w.reserve(4)
            let length = w.gapVarints(indices)
            lengthAt.storeBytes(of: UInt32(length).littleEndian, as: UInt32.self)
            var values = [Float].uninitialized(count: indices.count)
            values.withUnsafeMutableBufferPointer { v in
                plan.source.withUnsafeBufferPointer { src in for (j, i) in indices.enumerated() { v[j] = src[Int(i)] } }
                if !v.isEmpty {
                    ValueCoding.write(v.baseAddress!, count: v.count, encoding: encoding, blockSize: blockSize, into: &w, keepResidual: keepResidual)
                }
                if keepResidual {
                    plan.source.withUnsafeMutableBufferPointer { src in for (j, i) in indices.enumerated() { src[Int(i)] = v[j] } }
                }
            }
        } else if keepResidual {
            plan.source.withUnsafeMutableBufferPointer { src in
                guard let base = src.baseAddress else { return }
                ValueCoding.write(base, count: src.count, encoding: encoding, blockSize: blockSize, into: &w, keepResidual: true)
            }
        } else {
            // Read only: the buffer may be shared with the caller's delta; nothing is written to it.
            plan.source.withUnsafeBufferPointer { src in
                guard let base = src.baseAddress else { return }
                ValueCoding.write(UnsafeMutablePointer(mutating: base), count: src.count, encoding: encoding, blockSize: blockSize,
                                  into: &w, keepResidual: false)
            }
        }
    }

    /// A piece of an encoded message: bytes to send as they are, or float32 values to send
    /// as they lie in memory (little-endian).
    public enum Part: Sendable {
        case bytes([UInt8])
        case floats([Float])
    }

    /// A piece of the layout of a dense float32 message: bytes (headers), or the values of
    /// tensor `index` (`count` float32 values).
    public enum LayoutPart: Sendable, Equatable {
        case bytes([UInt8])
        case values(index: Int, count: Int)
    }

    /// The layout of the dense float32, uncompressed message of tensors with these names and
    /// shapes: every header byte, and where each tensor's values go. Lets a sender stream such
    /// a message from wherever its values come from.
    public static func float32Layout(_ tensors: [(name: String, shape: [Int])]) throws(ModelDeltaError) -> [LayoutPart] {
        guard tensors.count <= DeltaFormat.maxTensors else {
            throw ModelDeltaError("delta has \(tensors.count) tensors, over the format's limit of \(DeltaFormat.maxTensors)")
        }
        var parts: [LayoutPart] = []
        var bodySize = 0
        var seen = Set<String>()
        for (index, (name, shape)) in tensors.enumerated() {
            guard seen.insert(name).inserted else { throw ModelDeltaError("tensor '\(name)' appears twice in the delta") }
            let count = shape.reduce(1, *)
            try checkLimits(name, shape: shape, count: count)
            let size = 2 + name.utf8.count + 1 + 4 * shape.count + 10
            let header = [UInt8](unsafeUninitializedCapacity: size) { buf, done in
                var w = RawWriter(base: UnsafeMutableRawPointer(buf.baseAddress!), capacity: size)
                writeRecordHeader(name: name, shape: shape, encoding: .float32, layout: .dense, blockSize: 0, count: count, to: &w)
                done = size
            }
            parts += [.bytes(header), .values(index: index, count: count)]
            bodySize += size + 4 * count
        }
        let header = [UInt8](unsafeUninitializedCapacity: DeltaFormat.headerSize) { buf, done in
            writeHeader(UnsafeMutableRawPointer(buf.baseAddress!), flags: 0, tensors: tensors.count, bodySize: bodySize, storedSize: bodySize)
            done = DeltaFormat.headerSize
        }
        return [.bytes(header)] + parts
    }

    /// The message `DeltaEncoder(config: DeltaCodecConfig()).encode(ModelDelta(state))` would
    /// produce (dense float32, uncompressed), as parts that reference the tensors' storage
    /// instead of copying it: the whole weights of a model can be streamed without building the
    /// message in memory. Throws like `encode` for a non-finite value or a tensor over the limits.
    public static func float32Parts(_ state: [(name: String, value: Tensor)]) throws(ModelDeltaError) -> [Part] {
        for (name, tensor) in state {
            if let bad = tensor.data.withUnsafeBytes({ DeltaKernels.firstNonFinite($0.baseAddress, count: tensor.count) }) {
                throw ModelDeltaError("tensor '\(name)': delta is \(tensor.data[bad]) at element \(bad) (values must be finite)")
            }
        }
        return try float32Layout(state.map { ($0.name, $0.value.shape) }).map { part in
            switch part {
            case .bytes(let b): return .bytes(b)
            case .values(let index, _): return .floats(state[index].value.data)
            }
        }
    }

    private static func writeHeader(_ p: UnsafeMutableRawPointer, flags: UInt16, tensors: Int, bodySize: Int, storedSize: Int) {
        var w = RawWriter(base: p, capacity: DeltaFormat.headerSize)
        w.bytes(DeltaFormat.magic)
        w.u16(DeltaFormat.version)
        w.u16(flags)
        w.u32(UInt32(tensors))
        w.u64(UInt64(bodySize))
        w.u64(UInt64(storedSize))
    }
}
