import CohortData
import CohortNN
import CohortTensor
import Foundation

/// Reading and writing the checkpoint format (spec: `protocols/checkpoint.md`).
///
/// Layout: magic `COHORTCK`, format version (u32), header JSON (architecture, metadata,
/// tensor count), then one record per tensor (name, storage type, compression, shape, sizes,
/// payload), then a checksum of every preceding byte: CRC-32C (4 bytes) from version 2,
/// SHA-256 (32 bytes) in version 1, which is still read. Integers are little-endian. Tensors
/// are written and read one at a time, so peak memory stays near one copy of the model.
public enum CheckpointFile {
    static let magic = Array("COHORTCK".utf8)
    /// The format version this build writes and the newest it reads.
    public static let version: UInt32 = 2

    /// The checksum of a format version (1: SHA-256; 2: CRC-32C).
    static func checksum(of version: UInt32) -> FileChecksum.Kind { version >= 2 ? .crc32c : .sha256 }

    /// Upper bounds checked before anything is allocated.
    public struct Limits: Sendable {
        public var headerBytes = 16 << 20
        public var tensors = 100_000
        public var nameBytes = 1024
        public var rank = 8
        public var elements = 1 << 31
        public init() {}
    }

    /// How tensors are stored.
    public struct WriteOptions: Sendable {
        /// Storage type for parameters; BatchNorm running statistics always stay float32.
        public var storage: StorageType = .float32
        /// zlib level (1…9) per tensor payload, or nil for none. Dense float32 weights barely
        /// compress (ratio ~1.08 here), so the default is off.
        public var zlibLevel: Int32? = nil
        /// The format version to write: 2 (CRC-32C, the default) or 1 (SHA-256, for readers
        /// older than version 2).
        public var formatVersion: UInt32 = CheckpointFile.version
        /// Start the disk's writeback every 64 MiB while writing (the default), so the final
        /// fsync waits only for the tail. False leaves it all to the fsync: the file is just as
        /// durable, and the save's statistics then split page-cache writing from the disk
        /// (what `bench large-model` reports).
        public var earlyWriteback = true
        /// Write with the page cache bypassed (`O_DIRECT`, through an aligned staging buffer)
        /// where the file system allows it: for a large file not read again soon, such as the
        /// coordinator's journal checkpoint. The file is the same byte for byte; reading it
        /// back soon after goes to the disk.
        public var bypassPageCache = false
        public init(storage: StorageType = .float32, zlibLevel: Int32? = nil, formatVersion: UInt32 = CheckpointFile.version,
                    earlyWriteback: Bool = true, bypassPageCache: Bool = false) {
            self.storage = storage
            self.zlibLevel = zlibLevel
            self.formatVersion = formatVersion
            self.earlyWriteback = earlyWriteback
            self.bypassPageCache = bypassPageCache
        }
    }

    private struct Header: Codable {
        var architecture: ModelSpec?
        var metadata: CheckpointMetadata
        var tensorCount: Int
    }

    /// What a save cost: the file's bytes, the seconds spent writing them (to the page cache,
    /// with writeback started along the way) and the seconds of the final fsync (the disk).
    public struct SaveStatistics: Sendable {
        public var bytes: Int
        public var writeSeconds: Double
        public var syncSeconds: Double
        /// Whether the page cache was bypassed (asked for, and the file system allowed it).
        public var bypassedPageCache = false
    }

    /// Writes `checkpoint` to `path` atomically: a crash mid-save never replaces a good file
    /// with a broken one.
    @discardableResult
    public static func save(_ checkpoint: Checkpoint, to path: String, options: WriteOptions = WriteOptions()) throws -> SaveStatistics {
        if let bad = checkpoint.tensors.first(where: { !$0.value.isFinite }) {
            throw CheckpointError.mismatch(path: path, problems: ["tensor '\(bad.name)' holds NaN or infinity; nothing was written"])
        }
        guard (1...version).contains(options.formatVersion) else {
            throw CheckpointError.io(path: path, reason: "cannot write format version \(options.formatVersion) (1...\(version))")
        }
        let out = try AtomicFileWriter(path: path, checksum: checksum(of: options.formatVersion), bypassPageCache: options.bypassPageCache)
        out.earlyWriteback = options.earlyWriteback
        try out.write(magic)
        try out.u32(options.formatVersion)
        let header = try JSONEncoder().encode(Header(architecture: checkpoint.architecture, metadata: checkpoint.metadata,
                                                     tensorCount: checkpoint.tensors.count))
        try out.u32(UInt32(header.count))
        try out.write(Array(header))
        for (name, value) in checkpoint.tensors {
            let storage: StorageType = name.hasSuffix("running_mean") || name.hasSuffix("running_var") ? .float32 : options.storage
            // Plain float32 is written from the tensor's own storage, with no encoded copy.
            let direct = storage == .float32 && options.zlibLevel == nil
            let raw = direct ? [] : storage.encode(value.data)
            let stored = options.zlibLevel.map { Zlib.compress(raw, level: $0) } ?? raw
            let nameBytes = Array(name.utf8)
            try out.u16(UInt16(nameBytes.count))
            try out.write(nameBytes)
            try out.u8(storage.code)
            if case .int8(let block) = storage { try out.u32(UInt32(block)) }
            try out.u8(options.zlibLevel == nil ? 0 : 1)
            try out.u8(UInt8(value.shape.count))
            for d in value.shape { try out.u64(UInt64(d)) }
            try out.u64(UInt64(direct ? value.count * 4 : raw.count))
            try out.u64(UInt64(direct ? value.count * 4 : stored.count))
            if direct { try value.data.withUnsafeBytes { try out.write(raw: $0) } } else { try out.write(stored) }
        }
        try out.write(out.hasher.finish(), hash: false)
        try out.commit()
        return SaveStatistics(bytes: out.written, writeSeconds: out.writeSeconds, syncSeconds: out.syncSeconds,
                              bypassedPageCache: out.bypassesPageCache)
    }

    /// Saves a model with its architecture.
    @discardableResult
    public static func save(model: Sequential, metadata: CheckpointMetadata, to path: String,
                            options: WriteOptions = WriteOptions()) throws -> SaveStatistics {
        try save(Checkpoint(model: model, metadata: metadata), to: path, options: options)
    }

    /// Reads a checkpoint, verifying structure, sizes and the checksum. Nothing is returned
    /// unless the whole file checks out.
    public static func load(_ path: String, limits: Limits = Limits()) throws -> Checkpoint {
        let r = try BinaryFileReader(path: path, checksum: nil)
        let found = try r.bytes(magic.count, for: "magic")
        guard found == magic else {
            throw CheckpointError.wrongMagic(path: path, found: found.map { String(format: "%02x", $0) }.joined())
        }
        let v = try r.u32("format version")
        guard v <= version, v >= 1 else { throw CheckpointError.futureVersion(path: path, version: v, supported: version) }
        r.hasher.select(checksum(of: v))
        let headerStart = r.offset
        let headerLength = Int(try r.u32("header length"))
        guard headerLength <= limits.headerBytes else { throw r.corrupt("header length \(headerLength) exceeds \(limits.headerBytes)", at: headerStart) }
        let headerBytes = try r.bytes(headerLength, for: "header JSON")
        let header: Header
        do { header = try JSONDecoder().decode(Header.self, from: Data(headerBytes)) } catch {
            throw r.corrupt("header JSON does not decode: \(error)", at: headerStart + 4)
        }
        if let preprocessing = header.metadata.preprocessing {
            do { try preprocessing.validate(source: "metadata.preprocessing") } catch let error as DataError {
                throw r.corrupt(error.description, at: headerStart + 4)
            }
        }
        guard header.tensorCount >= 0, header.tensorCount <= limits.tensors else {
            throw r.corrupt("tensor count \(header.tensorCount) outside 0...\(limits.tensors)", at: headerStart + 4)
        }
        var tensors: [(name: String, value: Tensor)] = []
        var names = Set<String>()
        // Checked as each payload is read, reported only after the checksum passes.
        var firstNonFinite: String? = nil
        for index in 0..<header.tensorCount {
            let recordStart = r.offset
            let nameLength = Int(try r.u16("name length of tensor \(index)"))
            guard nameLength > 0, nameLength <= limits.nameBytes else { throw r.corrupt("tensor \(index): name length \(nameLength)", at: recordStart) }
            guard let name = String(validating: try r.bytes(nameLength, for: "name of tensor \(index)"), as: UTF8.self) else {
                throw r.corrupt("tensor \(index): name is not UTF-8", at: recordStart + 2)
            }
            guard names.insert(name).inserted else { throw r.corrupt("tensor '\(name)' appears twice", at: recordStart) }
            let storage: StorageType
            switch try r.u8("storage type of '\(name)'") {
            case 0: storage = .float32
            case 1: storage = .float16
            case 2:
                let block = Int(try r.u32("int8 block size of '\(name)'"))
                guard block > 0, block <= 1 << 20 else { throw r.corrupt("'\(name)': int8 block size \(block)") }
                storage = .int8(blockSize: block)
            case let code: throw r.corrupt("'\(name)': unknown storage type \(code)", at: r.offset - 1)
            }
            let compression = try r.u8("compression of '\(name)'")
            guard compression <= 1 else { throw r.corrupt("'\(name)': unknown compression \(compression)", at: r.offset - 1) }
            let rank = Int(try r.u8("rank of '\(name)'"))
            guard rank <= limits.rank else { throw r.corrupt("'\(name)': rank \(rank) over \(limits.rank)", at: r.offset - 1) }
            var shape: [Int] = []
            var count = 1
            for _ in 0..<rank {
                let d = try r.u64("shape of '\(name)'")
                guard d <= UInt64(limits.elements) else { throw r.corrupt("'\(name)': dimension \(d) over the limit", at: r.offset - 8) }
                shape.append(Int(d))
                count = count.multipliedReportingOverflow(by: Int(d)).partialValue
                guard count <= limits.elements else { throw r.corrupt("'\(name)': \(shape) has more than \(limits.elements) elements") }
            }
            let rawLength = try r.u64("raw size of '\(name)'")
            let storedLength = try r.u64("stored size of '\(name)'")
            guard rawLength == UInt64(storage.byteCount(count)) else {
                throw r.corrupt("'\(name)': raw size \(rawLength) does not match shape \(shape) (\(storage.byteCount(count)) bytes)", at: r.offset - 16)
            }
            guard storedLength <= UInt64(r.remaining) else {
                throw CheckpointError.truncated(path: path, offset: r.offset, needed: Int(clamping: storedLength), fileSize: r.size,
                                                what: "payload of '\(name)'")
            }
            // zlib cannot expand data more than ~1032:1, so a compressed record's raw size is
            // bounded by its stored size before the inflate buffer is allocated.
            guard compression == 0 || rawLength <= storedLength &* 1100 &+ 64 else {
                throw r.corrupt("'\(name)': raw size \(rawLength) is impossible for \(storedLength) bytes of zlib data", at: r.offset - 16)
            }
            guard compression == 1 || storedLength == rawLength else {
                throw r.corrupt("'\(name)': uncompressed payload of \(storedLength) bytes, \(rawLength) expected", at: r.offset - 8)
            }
            let payloadStart = r.offset
            if storage == .float32 && compression == 0 {
                // Read, checksummed and checked for NaN/infinity in one pass (two threads for large payloads).
                let (values, finite) = try r.checkedFloats(count, for: "payload of '\(name)'")
                if !finite && firstNonFinite == nil { firstNonFinite = name }
                tensors.append((name, Tensor(shape: shape, data: values)))
                continue
            }
            let stored = try r.bytes(Int(storedLength), for: "payload of '\(name)'")
            let raw: [UInt8]
            if compression == 1 {
                do { raw = try Zlib.decompress(stored, expectedCount: Int(rawLength)) } catch {
                    throw r.corrupt("'\(name)': \(error)", at: payloadStart)
                }
            } else {
                raw = stored
            }
            let values: [Float]
            do { values = try storage.decode(raw, count: count) } catch {
                throw r.corrupt("'\(name)': \(error)", at: payloadStart)
            }
            if firstNonFinite == nil && !values.withUnsafeBufferPointer({ VectorKernels.allFinite($0) }) { firstNonFinite = name }
            tensors.append((name, Tensor(shape: shape, data: values)))
        }
        let computed = r.hasher.finish()
        let stored = try r.bytes(checksum(of: v).byteCount, for: "checksum", hash: false)
        guard stored == computed else {
            throw CheckpointError.checksumMismatch(path: path, stored: hex(stored), computed: hex(computed))
        }
        guard r.remaining == 0 else { throw r.corrupt("\(r.remaining) unexpected bytes after the checksum") }
        if let name = firstNonFinite {
            throw CheckpointError.corrupt(path: path, offset: 0, reason: "tensor '\(name)' holds NaN or infinity")
        }
        return Checkpoint(architecture: header.architecture, metadata: header.metadata, tensors: tensors)
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
}
