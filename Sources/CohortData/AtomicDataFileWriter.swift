import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes a file through a temporary file in the same directory that replaces the target only
/// when complete (write, fsync, rename, fsync the directory), keeping a running CRC-32.
/// Dropping the writer without `commit()` removes the temporary file and leaves any old file intact.
final class AtomicDataFileWriter {
    let path: String
    let temporaryPath: String
    private var fd: Int32
    private var buffer: [UInt8] = []
    private(set) var crc: UInt32 = 0

    init(path: String) throws {
        self.path = path
        temporaryPath = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw DataError("\(path): cannot create temporary file \(temporaryPath): \(String(cString: strerror(errno)))") }
        buffer.reserveCapacity(1 << 20)
    }

    deinit {
        if fd >= 0 { close(fd); unlink(temporaryPath) }
    }

    /// Appends bytes (included in the CRC).
    func write(_ raw: UnsafeRawBufferPointer) throws {
        crc = crc32Update(crc, raw)
        if raw.count >= 1 << 16 {
            try flush()
            try writeAll(raw)
        } else {
            buffer.append(contentsOf: raw)
            if buffer.count >= 1 << 20 { try flush() }
        }
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { b in try write(b) }
    }

    func u32(_ v: UInt32) throws {
        try write([UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 24)])
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { b in try writeAll(b) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ raw: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < raw.count {
            let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw DataError("\(path): write failed: \(String(cString: strerror(errno)))") }
            done += n
        }
    }

    /// Flushes, fsyncs, renames over the target, and fsyncs the directory.
    func commit() throws {
        try flush()
        guard fsync(fd) == 0 else { throw DataError("\(path): fsync failed: \(String(cString: strerror(errno)))") }
        close(fd)
        fd = -1
        guard rename(temporaryPath, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporaryPath)
            throw DataError("\(path): rename into place failed: \(reason)")
        }
        let dir = (path as NSString).deletingLastPathComponent
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }

    /// Writes `data` to `path` atomically (no CRC trailer): for small text files such as CSV and JSON.
    static func write(_ data: [UInt8], to path: String) throws {
        let w = try AtomicDataFileWriter(path: path)
        try w.write(data)
        try w.commit()
    }
}
