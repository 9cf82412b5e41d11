import CZlib
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Sequential, bounds-checked reading of a data file, with a running CRC-32 of every byte read.
///
/// Each read names its field, so a short file gives an error saying which field was cut and
/// where. Callers check sizes against `remaining` before allocating anything large.
final class DataFileReader {
    let path: String
    let size: Int
    private(set) var offset = 0
    private(set) var crc: UInt32 = 0
    private let fd: Int32

    init(path: String) throws {
        self.path = path
        // Non-blocking open, so a FIFO given as a file cannot hang the process; then only
        // regular files are read.
        fd = open(path, O_RDONLY | O_NONBLOCK)
        guard fd >= 0 else { throw DataError("\(path): cannot open: \(String(cString: strerror(errno)))") }
        var st = stat()
        guard fstat(fd, &st) == 0 else { close(fd); throw DataError("\(path): cannot stat") }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw DataError("\(path): not a regular file (a directory, FIFO, socket or device cannot be read as one)")
        }
        size = Int(st.st_size)
    }

    deinit { close(fd) }

    var remaining: Int { size - offset }

    /// The error for a field of `count` bytes at the current offset that the file cannot hold.
    func truncated(_ what: String, needs count: Int, at position: Int? = nil) -> DataError {
        DataError("\(path): truncated: \(what) needs \(count) bytes at offset \(position ?? offset), but the file ends at \(size)")
    }

    /// Reads exactly `count` bytes into `buffer` (which must hold them), updating the CRC.
    func read(into buffer: UnsafeMutableRawBufferPointer, for what: String) throws {
        let count = buffer.count
        guard count <= remaining else { throw truncated(what, needs: count) }
        var done = 0
        while done < count {
            let n = Glibc.read(fd, buffer.baseAddress! + done, count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw DataError("\(path): read failed at offset \(offset + done)") }
            done += n
        }
        crc = crc32Update(crc, UnsafeRawBufferPointer(buffer))
        offset += count
    }

    /// Reads `count` bytes.
    func bytes(_ count: Int, for what: String) throws -> [UInt8] {
        guard count >= 0, count <= remaining else { throw truncated(what, needs: count) }
        var out = [UInt8](repeating: 0, count: count)
        try out.withUnsafeMutableBytes { b in try read(into: b, for: what) }
        return out
    }

    func u32(_ what: String) throws -> UInt32 {
        let b = try bytes(4, for: what)
        return UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
    }
}

/// The standard CRC-32 (zlib's `crc32`, ISO-HDLC) of `bytes`, continuing from `crc`.
func crc32Update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
    var crc = crc
    var rest = bytes
    while !rest.isEmpty {
        let chunk = min(rest.count, 1 << 30)
        crc = UInt32(crc32(uLong(crc), rest.baseAddress!.assumingMemoryBound(to: Bytef.self), uInt(chunk)))
        rest = UnsafeRawBufferPointer(rebasing: rest[chunk...])
    }
    return crc
}
