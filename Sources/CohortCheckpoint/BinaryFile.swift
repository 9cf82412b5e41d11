import CCRC32C
import CohortTensor
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Sequential, bounds-checked reading of a file, checksumming everything read (the kind
/// chosen once the format version is known: `checksum.select`).
///
/// Every read names what it is for, so a short file gives a `truncated` error saying which
/// field was cut and where. Sizes are checked against the bytes left before anything is allocated.
final class BinaryFileReader {
    let path: String
    let size: Int
    private(set) var offset = 0
    private let fd: Int32
    let hasher: FileChecksum
    /// The open file, for positioned reads (`pread`) that do not move `offset`.
    var descriptor: Int32 { fd }

    /// A reader of `path` computing `checksum` over what it reads (nil: chosen later with
    /// `hasher.select`, bytes read before that are held).
    init(path: String, checksum: FileChecksum.Kind? = .off) throws {
        self.path = path
        hasher = FileChecksum(checksum)
        // Non-blocking open, so a FIFO given as a file cannot hang the process; then only
        // regular files are read.
        fd = open(path, O_RDONLY | O_NONBLOCK)
        guard fd >= 0 else { throw CheckpointError.io(path: path, reason: "cannot open: \(String(cString: strerror(errno)))") }
        var st = stat()
        guard fstat(fd, &st) == 0 else { close(fd); throw CheckpointError.io(path: path, reason: "cannot stat") }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw CheckpointError.io(path: path, reason: "not a regular file (a directory, FIFO, socket or device cannot be read as one)")
        }
        size = Int(st.st_size)
    }

    deinit { close(fd) }

    var remaining: Int { size - offset }

    /// Reads exactly `count` bytes, hashing them unless `hash` is false.
    func bytes(_ count: Int, for what: String, hash: Bool = true) throws -> [UInt8] {
        guard count >= 0, count <= remaining else {
            throw CheckpointError.truncated(path: path, offset: offset, needed: count, fileSize: size, what: what)
        }
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        try out.withUnsafeMutableBytes { buf in
            while done < count {
                let n = read(fd, buf.baseAddress! + done, count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw CheckpointError.io(path: path, reason: "read failed at offset \(offset + done)") }
                done += n
            }
            if hash { hasher.update(UnsafeRawBufferPointer(buf)) }
        }
        offset += count
        return out
    }

    /// Reads `count` little-endian float32 values straight into a new array (hashed), with no
    /// intermediate byte buffer.
    func floats(_ count: Int, for what: String) throws -> [Float] {
        guard count >= 0, count <= remaining / 4 else {
            throw CheckpointError.truncated(path: path, offset: offset, needed: count * 4, fileSize: size, what: what)
        }
        var out = [Float].uninitialized(count: count)
        try out.withUnsafeMutableBytes { buf in
            var done = 0
            while done < buf.count {
                let n = read(fd, buf.baseAddress! + done, buf.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw CheckpointError.io(path: path, reason: "read failed at offset \(offset + done)") }
                done += n
            }
            hasher.update(UnsafeRawBufferPointer(buf))
        }
        offset += count * 4
        return out
    }

    /// Moves past `count` bytes already consumed with positioned reads (not hashed here).
    func skip(_ count: Int) throws {
        guard count >= 0, count <= remaining else {
            throw CheckpointError.truncated(path: path, offset: offset, needed: count, fileSize: size, what: "skipped bytes")
        }
        guard lseek(fd, off_t(offset + count), SEEK_SET) >= 0 else {
            throw CheckpointError.io(path: path, reason: "seek to \(offset + count) failed: \(String(cString: strerror(errno)))")
        }
        offset += count
    }

    func u8(_ what: String) throws -> UInt8 { try bytes(1, for: what)[0] }
    func u16(_ what: String) throws -> UInt16 { UInt16(littleEndianBytes: try bytes(2, for: what)) }
    func u32(_ what: String) throws -> UInt32 { UInt32(littleEndianBytes: try bytes(4, for: what)) }
    func u64(_ what: String) throws -> UInt64 { UInt64(littleEndianBytes: try bytes(8, for: what)) }

    func corrupt(_ reason: String, at position: Int? = nil) -> CheckpointError {
        .corrupt(path: path, offset: position ?? offset, reason: reason)
    }
}

/// Sequential writing to a temporary file that replaces the target only when complete
/// (write, fsync, rename, fsync the directory): a crash mid-save leaves the old file intact.
final class AtomicFileWriter {
    let path: String
    let temporaryPath: String
    private var fd: Int32
    private var buffer: [UInt8] = []
    let hasher: FileChecksum
    private(set) var written = 0
    private let opened = DispatchTime.now().uptimeNanoseconds
    /// Seconds from opening to the start of the final fsync, and in that fsync (set by `commit`).
    private(set) var writeSeconds = 0.0
    private(set) var syncSeconds = 0.0

    /// Writes with the page cache bypassed (`O_DIRECT`) when the file system allows it.
    private var direct: DirectFileSink?

    /// `bypassPageCache`: write with `O_DIRECT` (see `DirectFileSink`); where the file system
    /// refuses it, the writer silently writes through the page cache as usual.
    init(path: String, checksum: FileChecksum.Kind = .off, bypassPageCache: Bool = false) throws {
        self.path = path
        hasher = FileChecksum(checksum)
        temporaryPath = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        fd = bypassPageCache ? cohort_create_direct(temporaryPath, 0o644) : -1
        if fd >= 0 {
            direct = DirectFileSink(fd: fd, path: path)
        } else {
            // Some file systems make the file before they refuse O_DIRECT.
            if bypassPageCache && errno == EINVAL { unlink(temporaryPath) }
            fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        }
        guard fd >= 0 else {
            throw CheckpointError.io(path: path, reason: "cannot create temporary file \(temporaryPath): \(String(cString: strerror(errno)))")
        }
        buffer.reserveCapacity(1 << 20)
    }

    /// Whether the file is being written with the page cache bypassed.
    var bypassesPageCache: Bool { direct != nil }

    deinit {
        if fd >= 0 { close(fd); unlink(temporaryPath) }
    }

    func write(_ bytes: [UInt8], hash: Bool = true) throws {
        if bytes.count >= 1 << 16 && hash {
            // Large payloads go straight to the file instead of through the staging buffer.
            try bytes.withUnsafeBytes { try write(raw: $0) }
            return
        }
        bytes.withUnsafeBytes { if hash { hasher.update($0) } }
        buffer += bytes
        written += bytes.count
        if buffer.count >= 1 << 20 { try flush() }
    }

    /// Writes straight from the caller's memory (e.g. a tensor's storage), with no staging copy:
    /// in slices that are checksummed just before they are written (still in cache), with the
    /// disk's writeback started every `writebackBytes` so the final fsync waits only for the tail.
    func write(raw: UnsafeRawBufferPointer) throws {
        try flush()
        guard let base = raw.baseAddress else { return }
        var done = 0
        while done < raw.count {
            let slice = UnsafeRawBufferPointer(start: base + done, count: min(Self.sliceBytes, raw.count - done))
            hasher.update(slice)
            try writeAll(slice)
            done += slice.count
            written += slice.count
            if earlyWriteback && direct == nil && written - writebackStart >= Self.writebackBytes { startWriteback() }
        }
    }

    /// Bytes checksummed and written per step.
    static let sliceBytes = 8 << 20
    /// Bytes written between two writeback starts.
    static let writebackBytes = 64 << 20
    /// Where the range not yet handed to writeback begins.
    private var writebackStart = 0
    /// Whether writeback is started while writing (else the final fsync does it all).
    var earlyWriteback = true

    /// Asks the kernel to start writing what was written since the last call (no waiting; a
    /// failure here only means the fsync does all the work).
    private func startWriteback() {
        _ = cohort_start_writeback(fd, Int64(writebackStart), Int64(written - writebackStart))
        writebackStart = written
    }

    func u8(_ v: UInt8) throws { try write([v]) }
    func u16(_ v: UInt16) throws { try write(v.littleEndianBytes) }
    func u32(_ v: UInt32) throws { try write(v.littleEndianBytes) }
    func u64(_ v: UInt64) throws { try write(v.littleEndianBytes) }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ raw: UnsafeRawBufferPointer) throws {
        if let direct { return try direct.append(raw) }
        var done = 0
        while done < raw.count {
            let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw CheckpointError.io(path: path, reason: "write failed: \(String(cString: strerror(errno)))") }
            done += n
        }
    }

    /// Flushes, fsyncs, and renames over the target; then fsyncs the directory.
    func commit() throws {
        try flush()
        try direct?.finish(length: written)
        let syncStart = DispatchTime.now().uptimeNanoseconds
        writeSeconds = Double(syncStart - opened) / 1e9
        guard fsync(fd) == 0 else { throw CheckpointError.io(path: path, reason: "fsync failed: \(String(cString: strerror(errno)))") }
        syncSeconds = Double(DispatchTime.now().uptimeNanoseconds - syncStart) / 1e9
        close(fd)
        fd = -1
        guard rename(temporaryPath, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporaryPath)
            throw CheckpointError.io(path: path, reason: "rename into place failed: \(reason)")
        }
        let dir = (path as NSString).deletingLastPathComponent
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }
}

extension FixedWidthInteger {
    init(littleEndianBytes bytes: [UInt8]) {
        var v: Self = 0
        for (i, b) in bytes.enumerated() { v |= Self(b) << (8 * i) }
        self = v
    }

    var littleEndianBytes: [UInt8] {
        (0..<(Self.bitWidth / 8)).map { UInt8(truncatingIfNeeded: self >> (8 * $0)) }
    }
}
