import CohortTensor
#if canImport(Glibc)
import Glibc
#endif

/// One validated tensor record of a delta message, still in its wire encoding (float32,
/// float16 or int8 values; dense or sparse). A receiver can keep records as they arrive and
/// fold them into a sum straight from these bytes (`DeltaFold`) instead of materialising every
/// update as a dense tensor; `decoded()` gives the tensor when one is wanted.
///
/// Records handed out by `DeltaStreamDecoder` may point into the bytes being fed (when a
/// record lies whole inside them): such a record is valid only during the callback. `owned()`
/// returns a record that owns its bytes (a copy only when needed).
public struct DeltaRecord: @unchecked Sendable {
    let header: DeltaRecordHeader
    /// The bytes' owner; nil for a record pointing into someone else's buffer.
    let storage: RecordStorage?
    /// Start of the record (its header); the payload follows `header.headerBytes` later.
    let base: UnsafeRawPointer
    /// float32 records: Σ x² over the values sent, found by the decoder in the pass that
    /// checked them (`Float32Scan`); nil for other encodings and for views of tensors.
    public let sumOfSquares: Double?

    init(header: DeltaRecordHeader, storage: RecordStorage?, base: UnsafeRawPointer, sumOfSquares: Double? = nil) {
        self.header = header
        self.storage = storage
        self.base = base
        self.sumOfSquares = sumOfSquares
    }

    /// The tensor's name.
    public var name: String { header.name }
    /// The tensor's shape (as the decoder expected it).
    public var shape: [Int] { header.shape }
    /// Elements of the tensor.
    public var elementCount: Int { header.elements }
    /// Bytes of the record on the wire (header and payload).
    public var byteCount: Int { header.headerBytes + header.payloadBytes }
    /// Whether the record owns its bytes (may be kept after the decoder's callback returns).
    public var isOwned: Bool { storage != nil }

    /// The payload: index stream (sparse), int8 scales, values.
    var payload: UnsafeRawPointer { base + header.headerBytes }
    /// Start of the value section (the int8 scales, else the values).
    var values: UnsafeRawPointer { payload + header.indexBytes }

    /// This record, owning its bytes: itself when it already does, else a copy.
    public func owned() -> DeltaRecord {
        if storage != nil { return self }
        let copy = RecordStorage(byteCount: byteCount)
        copy.base.copyMemory(from: base, byteCount: byteCount)
        return DeltaRecord(header: header, storage: copy, base: UnsafeRawPointer(copy.base), sumOfSquares: sumOfSquares)
    }

    /// The record decoded to a dense tensor (zeros where a sparse record sends nothing).
    public func decoded() -> Tensor {
        let h = header
        switch h.layout {
        case .dense:
            var data = [Float].uninitialized(count: h.elements)
            data.withUnsafeMutableBufferPointer { d in
                guard let out = d.baseAddress else { return }
                ValueCoding.decode(count: h.valueCount, encoding: h.encoding, blockSize: h.blockSize, from: values, into: out)
            }
            return Tensor(shape: h.shape, data: data)
        case .sparse:
            var data = [Float](repeating: 0, count: h.elements)
            guard h.valueCount > 0 else { return Tensor(shape: h.shape, data: data) }
            var sent = [Float].uninitialized(count: h.valueCount)
            sent.withUnsafeMutableBufferPointer { v in
                ValueCoding.decode(count: h.valueCount, encoding: h.encoding, blockSize: h.blockSize, from: values, into: v.baseAddress!)
                data.withUnsafeMutableBufferPointer { d in
                    IndexStream.forEach(payload.assumingMemoryBound(to: UInt8.self), count: h.valueCount) { j, i in d[i] = v[j] }
                }
            }
            return Tensor(shape: h.shape, data: data)
        }
    }

    /// Runs `body` with a dense float32 record viewing `tensor`'s values, so a decoded tensor
    /// folds through the same kernels as a received record (the view is valid only in `body`).
    public static func withView<R>(of tensor: Tensor, name: String, _ body: (DeltaRecord) throws -> R) rethrows -> R {
        let header = DeltaRecordHeader(name: name, shape: tensor.shape, elements: tensor.count, encoding: .float32, layout: .dense,
                                       blockSize: 0, valueCount: tensor.count, indexBytes: 0, headerBytes: 0,
                                       payloadBytes: 4 * tensor.count, payloadDescription: "")
        return try tensor.data.withUnsafeBytes { b in
            try body(DeltaRecord(header: header, storage: nil, base: b.baseAddress ?? UnsafeRawPointer(bitPattern: 64)!))
        }
    }

    /// Checks the payload of a record whose header is `header` and whose bytes start at
    /// `r`'s position (header included, all present), and moves `r` past it. Errors are
    /// those of `DeltaDecoder`, at the offsets `r` reports. Returns a float32 record's sum of
    /// squares (`prescanned`: its values were already scanned, as they were gathered).
    static func validate(_ header: DeltaRecordHeader, _ r: inout ByteReader,
                         prescanned: Float32Scan? = nil) throws(DeltaDecodeError) -> Double? {
        _ = try r.take(header.headerBytes, for: "record header")
        if header.layout == .sparse {
            let at = r.offset
            let stream = try r.take(header.indexBytes, for: "index stream").assumingMemoryBound(to: UInt8.self)
            try IndexStream.validate(stream, length: header.indexBytes, count: header.valueCount, elements: header.elements, reader: r, at: at)
        }
        return try ValueCoding.validate(count: header.valueCount, encoding: header.encoding, blockSize: header.blockSize, from: &r,
                                        prescanned: prescanned)
    }
}

/// Raw bytes owned by one or more `DeltaRecord`s (never written after the record is made).
///
/// Large buffers are mapped straight from the kernel and unmapped when the record goes: given
/// back at once, instead of staying in the heap arena of the thread that received it. Buffers
/// of `hugeThreshold` bytes or more are aligned to 2 MiB and asked for transparent huge pages
/// (`MADV_HUGEPAGE`): a gathered record is written once from start to end, and one fault per
/// 2 MiB instead of per 4 KiB is what lets gathering run near copy speed (decode of a dense
/// float32 UPDATE from 1 MiB chunks: 2.2 GB/s with 4 KiB pages here, see `cohort bench
/// aggregate`; 3.8 GB/s with huge pages for its 4-12 MB records). The threshold is high
/// (64 MiB) because a record being gathered while its node waits for buffer room is partly
/// filled, and a huge page costs up to 2 MiB more than what was written: with records of a
/// 40 MB model that would weigh on the coordinator's memory floor (3× the model), while for
/// a large model's records it is noise. Smaller mapped buffers keep 4 KiB pages, and are
/// taken from and given back to `RecordBufferPool` (bounded by `DeltaRecordBuffers.retainLimit`, 0 by default):
/// a reused buffer is already touched, so gathering into it is a copy, not a page fault per 4 KiB.
final class RecordStorage: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let byteCount: Int
    private let mapping: UnsafeMutableRawPointer?
    private let mapped: Int

    /// Buffers at least this large are mapped.
    static let mapThreshold = 1 << 20
    /// Mapped buffers at least this large use 2 MiB pages.
    static let hugeThreshold = 64 << 20
    static let hugePage = 2 << 20

    init(byteCount: Int) {
        self.byteCount = byteCount
        let huge = byteCount >= Self.hugeThreshold
        let length = huge ? byteCount + Self.hugePage : byteCount
        if byteCount >= Self.mapThreshold, !huge, let reused = RecordBufferPool.shared.take(length: length) {
            // Already mapped and touched: gathering into it is a copy, with no page faults.
            mapping = reused.mapping
            mapped = reused.length
            base = reused.mapping
        } else if byteCount >= Self.mapThreshold,
           let p = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED {
            mapping = p
            mapped = length
            if huge {
                let aligned = (Int(bitPattern: p) + Self.hugePage - 1) / Self.hugePage * Self.hugePage
                base = UnsafeMutableRawPointer(bitPattern: aligned)!
                _ = madvise(base, byteCount, MADV_HUGEPAGE)   // advice only: 4 KiB pages if refused
            } else {
                base = p
            }
        } else {
            base = .allocate(byteCount: max(byteCount, 1), alignment: 64)
            mapping = nil
            mapped = 0
        }
    }

    deinit {
        guard let mapping else { return base.deallocate() }
        // Buffers under the huge threshold go back to the pool (which unmaps what it cannot keep).
        if byteCount < Self.hugeThreshold { RecordBufferPool.shared.give(mapping, length: mapped) } else { munmap(mapping, mapped) }
    }
}
