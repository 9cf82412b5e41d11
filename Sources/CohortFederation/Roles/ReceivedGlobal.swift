import CohortCheckpoint
import CohortNN
import CohortTensor
import CohortTransport

/// A node's copy of the coordinator's global weights as last received: never the weights it
/// fine-tuned, nor its own kept tensors (FedBN's BatchNorm, the statistics under privacy),
/// which stay apart. A MODEL that is a delta from version b is applied to it (the copy must
/// be of version b or later: tensors absent from the delta did not change after b), and the
/// result is checked against the header's `modelDigest` before it is kept or used.
///
/// A MODEL is decoded as its bytes arrive (`begin`, then `ModelAssembly.take` for each record
/// or piece the stream decoder hands out, then `finish`): every tensor's values go straight
/// from the received chunk into that tensor's own storage, so no whole message or body is
/// ever held, and the received model costs one copy of its tensors.
struct ReceivedGlobal {
    /// The global version held (nil: none yet, or forgotten after a failed check).
    private(set) var version: Int?
    private(set) var weights: [String: Tensor] = [:]
    /// Tensors of the copy held in a temporary file instead of `weights` (`spill`).
    private(set) var spilled: GlobalSpill?
    /// The temporary file, kept for the next round's spill: rewriting the same file reuses its
    /// page-cache pages, where a new file needs new memory (about 1 GB/s on the machine the
    /// figures come from, against several GB/s into pages the file already has).
    private var spillFile: GlobalSpill?

    /// Starts receiving the MODEL of `header` for a model with `shapes`: checks that a delta
    /// can apply to the copy held (throwing `Mismatch`, keeping the copy, when it cannot); a
    /// whole model drops the copy first, so the old and the new are never both held.
    mutating func begin(_ header: RoundMessages.ModelHeader, shapes: [String: [Int]],
                        slots: [String: ModelAssembly.Slot] = [:]) throws -> ModelAssembly {
        guard header.modelDigest != nil else { throw AggregationError("the MODEL of version \(header.modelVersion) carries no modelDigest") }
        if let base = header.baseVersion {
            guard let held = version, held >= base, held <= header.modelVersion, heldShapes == shapes else {
                throw Mismatch("the MODEL is a delta from version \(base) to \(header.modelVersion), but this node holds "
                               + (version.map { "version \($0)" } ?? "no global model"))
            }
        } else {
            forget()
        }
        return ModelAssembly(shapes: shapes, slots: slots)
    }

    /// Drops the held tensor `name` (a delta's record for it has started: the new value
    /// replaces it). The copy is then incomplete until `finish`, and forgotten on any failure.
    mutating func release(_ name: String) {
        weights[name] = nil
        spilled?.remove(name)
    }

    /// The shape of every tensor of the copy, in memory or in the file.
    private var heldShapes: [String: [Int]] {
        weights.mapValues(\.shape).merging(spilled?.entries.mapValues(\.shape) ?? [:]) { a, _ in a }
    }

    /// Moves tensors `names` of the copy (the received global values, which `global` also
    /// holds) to the temporary file in `directory` (the last round's, rewritten, or a new one)
    /// and drops them from memory here and from
    /// `global`: the model's weights are then their storage's only holder, and training
    /// writes them in place instead of copying them away from the global values. Every tensor
    /// is written before any is dropped: when the file fails, nothing has moved.
    mutating func spill(_ names: [String], from global: inout [String: Tensor], directory: String) throws -> GlobalSpill {
        let file = try spillFile.flatMap { $0.directory == directory ? $0 : nil } ?? GlobalSpill(directory: directory)
        spillFile = nil
        file.clear()
        for name in names {
            if let tensor = global[name] { try file.write(name, tensor) }
        }
        spillFile = file
        for name in file.entries.keys {
            global[name] = nil
            weights[name] = nil
        }
        spilled = file
        return file
    }

    /// The decoder for a MODEL body of `bodyLength` bytes (every tensor required unless the
    /// header is a delta's); large dense records come out in pieces of `pieceBytes`.
    static func decoder(_ header: RoundMessages.ModelHeader, shapes: [String: [Int]], bodyLength: Int,
                        pieceBytes: Int = 1 << 20) -> DeltaStreamDecoder {
        let budget = shapes.values.reduce(0) { $0 + $1.reduce(1, *) } * 4 + 1 << 20
        return DeltaStreamDecoder(expectedShapes: shapes, maxBytes: budget, requireAllTensors: header.baseVersion == nil,
                                  messageLength: bodyLength, pieceBytes: pieceBytes)
    }

    /// The whole global model of `header`'s version, from a completely decoded `assembly`: its
    /// tensors (a whole model), or its tensors over the copy held (a delta). Throws `Mismatch`,
    /// forgetting the copy, when the result does not match the digest.
    mutating func finish(_ header: RoundMessages.ModelHeader, _ assembly: ModelAssembly) throws -> [String: Tensor] {
        guard let expected = header.modelDigest else { throw AggregationError("the MODEL of version \(header.modelVersion) carries no modelDigest") }
        var next = header.baseVersion == nil ? [:] : weights
        let decoded = assembly.tensors()
        if header.baseVersion != nil, let file = spilled {
            // Tensors the delta leaves as they were come back from the file.
            do {
                for name in file.entries.keys where decoded[name] == nil { next[name] = try file.load(name) }
            } catch {
                forget()
                throw Mismatch("this node cannot read its copy of the global model back (\(error)), so the MODEL of version "
                               + "\(header.modelVersion), a delta from version \(header.baseVersion ?? 0), cannot be applied")
            }
        }
        for (name, value) in decoded { next[name] = value }
        let actual = ModelDigest.hex(next)
        guard actual == expected else {
            forget()
            throw Mismatch("the global model of version \(header.modelVersion) rebuilt from the MODEL"
                           + (header.baseVersion.map { " (a delta from version \($0))" } ?? "")
                           + " has digest \(actual), the coordinator's has \(expected)")
        }
        version = header.modelVersion
        weights = next
        spilled = nil
        return next
    }

    /// The whole global model of `header`'s version from a body held whole (`begin`, the
    /// body fed to the stream decoder at once, `finish`).
    mutating func apply(_ header: RoundMessages.ModelHeader, body: [UInt8], shapes: [String: [Int]]) throws -> [String: Tensor] {
        let assembly = try begin(header, shapes: shapes)
        let decoder = Self.decoder(header, shapes: shapes, bodyLength: body.count)
        try body.withUnsafeBytes { b in
            try decoder.feed(b, piecewise: true, pieces: { try assembly.take($0) }) { try assembly.take($0) }
        }
        try decoder.finish()
        return try finish(header, assembly)
    }

    /// The MODEL cannot give this node the coordinator's global model (it needs the whole one).
    struct Mismatch: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Drops the copy: the next MODEL must be whole.
    mutating func forget() {
        version = nil
        weights = [:]
        spilled = nil
    }
}

/// The tensors of one MODEL body as its records and pieces arrive, each decoded once into
/// its own storage: the model's own tensor of that name when one is given (`slots`: the
/// node's model, whose weights a new MODEL replaces anyway, so the received global and the
/// model share one copy until training changes the weights: the tensor is taken out of the
/// model while it is filled and put back by `tensors()`; a model left with a tensor taken out
/// by a failed MODEL must be rebuilt), else storage allocated when the
/// record's first piece or whole record comes. Writing into a model tensor whose storage is
/// shared (a site's own tensor kept apart, a frozen tensor the held copy shares) copies it
/// first, as any write to a shared tensor does, so nothing else ever sees the new values.
final class ModelAssembly {
    /// Where a tensor of the model lives (a parameter's or a buffer's value).
    struct Slot {
        let get: () -> Tensor
        /// Takes the tensor out (leaving an empty placeholder), so its storage is written
        /// without a copy; `put` gives the model its tensor back.
        let take: () -> Tensor
        let put: (Tensor) -> Void
    }

    private let shapes: [String: [Int]]
    private let slots: [String: Slot]
    /// Called with a tensor's name when its record starts (the held copy's tensor can go).
    var onRecordStart: (String) -> Void = { _ in }
    /// One tensor's values (a class, so filling it never copies the array).
    private final class Values { var data: [Float]; init(_ data: [Float]) { self.data = data } }
    private var filling: [String: Values] = [:]
    private var inSlots: Set<String> = []

    init(shapes: [String: [Int]], slots: [String: Slot] = [:]) {
        self.shapes = shapes
        self.slots = slots
    }

    /// The slots of `model`'s parameters and buffers (none for a LoRA model, whose base
    /// weights load through their adapter).
    static func modelSlots(_ model: Sequential) -> [String: Slot] {
        guard model.spec.lora == nil else { return [:] }
        var out: [String: Slot] = [:]
        for p in model.parameters {
            out[p.name] = Slot(get: { p.value }, take: { let t = p.value; p.value = Tensor(shape: [0]); return t }, put: { p.value = $0 })
        }
        for b in model.buffers {
            out[b.name] = Slot(get: { b.value }, take: { let t = b.value; b.value = Tensor(shape: [0]); return t }, put: { b.value = $0 })
        }
        return out
    }

    /// Takes a whole checked record (decoded to a tensor of its own).
    func take(_ record: DeltaRecord) throws {
        onRecordStart(record.name)
        inSlots.remove(record.name)
        filling[record.name] = Values(record.decoded().data)
    }

    /// Takes a checked piece of a large dense record, decoding its values in place.
    func take(_ piece: DeltaRecordPiece) throws {
        if piece.isFirst {
            onRecordStart(piece.name)
            if let slot = slots[piece.name], slot.get().count == piece.recordElements {
                inSlots.insert(piece.name)
                filling[piece.name] = Values(slot.take().data)
            } else {
                inSlots.remove(piece.name)
                filling[piece.name] = Values(.uninitialized(count: piece.recordElements))
            }
        }
        guard let values = filling[piece.name] else {
            throw DeltaDecodeError("a piece arrived before its record's first", tensor: piece.name)
        }
        try values.data.withUnsafeMutableBufferPointer { try piece.decode(into: $0) }
    }

    /// The decoded tensors (call once the decoder has finished).
    func tensors() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, values) in filling {
            let tensor = Tensor(shape: shapes[name] ?? [values.data.count], data: values.data)
            if inSlots.contains(name) { slots[name]?.put(tensor) }
            out[name] = tensor
        }
        filling = [:]
        inSlots = []
        return out
    }
}

extension RoundMessages {
    /// Decodes a whole-model MODEL body as a node does (`ReceivedGlobal`: fed `feed` bytes at
    /// a time, large records decoded piece by piece into the tensors' storage, then checked
    /// against `header.modelDigest`); for benchmarks and tools that hold a body.
    public static func decodeModelBodyAsANodeDoes(_ body: UnsafeRawBufferPointer, header: ModelHeader, shapes: [String: [Int]],
                                                  feed: Int = StreamedMessage.defaultChunkSize) throws -> [String: Tensor] {
        var node = ReceivedGlobal()
        let assembly = try node.begin(header, shapes: shapes)
        let decoder = ReceivedGlobal.decoder(header, shapes: shapes, bodyLength: body.count)
        var at = 0
        while at < body.count {
            let n = min(max(feed, 1), body.count - at)
            try decoder.feed(UnsafeRawBufferPointer(rebasing: body[at..<(at + n)]), piecewise: true,
                             pieces: { try assembly.take($0) }) { try assembly.take($0) }
            at += n
        }
        try decoder.finish()
        return try node.finish(header, assembly)
    }
}
