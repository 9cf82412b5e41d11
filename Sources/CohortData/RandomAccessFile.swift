import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A file read at chosen offsets (`pread`), every read checked against the file's size first,
/// so a hostile size or offset gives an error naming the field instead of a short read.
final class RandomAccessFile {
    let path: String
    let size: Int
    private let fd: Int32

    init(path: String) throws {
        self.path = path
        fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw DataError("\(path): cannot open: \(String(cString: strerror(errno)))") }
        var st = stat()
        guard fstat(fd, &st) == 0 else { close(fd); throw DataError("\(path): cannot stat") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { close(fd); throw DataError("\(path): not a regular file") }
        size = Int(st.st_size)
    }

    deinit { close(fd) }

    /// The error for a field of `count` bytes at `offset` that the file cannot hold.
    func truncated(_ what: String, needs count: Int, at offset: Int) -> DataError {
        DataError("\(path): truncated: \(what) needs \(count) bytes at offset \(offset), but the file ends at \(size)")
    }

    /// Whether `count` bytes starting at `offset` lie inside the file (no overflow).
    func holds(_ count: Int, at offset: Int) -> Bool {
        offset >= 0 && count >= 0 && offset <= size && count <= size - offset
    }

    /// Fills `buffer` with the bytes at `offset`.
    func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer, for what: String) throws {
        let count = buffer.count
        guard holds(count, at: offset) else { throw truncated(what, needs: count, at: offset) }
        var done = 0
        while done < count {
            let n = pread(fd, buffer.baseAddress! + done, count - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw DataError("\(path): read failed at offset \(offset + done) (\(what))") }
            done += n
        }
    }

    /// The `count` bytes at `offset`.
    func bytes(at offset: Int, count: Int, for what: String) throws -> [UInt8] {
        guard holds(count, at: offset) else { throw truncated(what, needs: count, at: offset) }
        var out = [UInt8](repeating: 0, count: count)
        try out.withUnsafeMutableBytes { b in try read(at: offset, into: b, for: what) }
        return out
    }
}

/// Little-endian integer fields of a byte array, bounds-checked by the caller.
extension Array where Element == UInt8 {
    func le16(_ at: Int) -> Int { Int(self[at]) | Int(self[at + 1]) << 8 }
    func le32(_ at: Int) -> Int { le16(at) | le16(at + 2) << 16 }
    /// A u64 field; values above `Int.max` come back as `Int.max` (larger than any file).
    func le64(_ at: Int) -> Int {
        var v: UInt64 = 0
        for k in 0..<8 { v |= UInt64(self[at + k]) << (8 * UInt64(k)) }
        return v > UInt64(Int.max) ? Int.max : Int(v)
    }
}
