import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Sequential writes to a descriptor opened with the page cache bypassed (`O_DIRECT`), through
/// a page-aligned staging buffer: the caller's bytes may have any address and length, the
/// file gets only aligned, block-sized writes, and `finish` cuts the zero-padded tail back to
/// the true length.
///
/// For a large file written once and not read soon (the coordinator's journal checkpoint,
/// rewritten every round): it goes from the staging buffer to the disk by DMA, instead of
/// filling new page-cache pages (on this machine's VM, new pages cost about as much as the
/// disk write itself) and pushing out memory the run is using.
final class DirectFileSink {
    /// Alignment of the staging buffer, of every write's length and of every file offset.
    static let alignment = 4096
    /// Bytes staged before each write.
    static let capacity = 16 << 20

    private let fd: Int32
    private let path: String
    private let staging: UnsafeMutableRawPointer
    private var filled = 0

    /// `path` names the file in errors.
    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
        staging = UnsafeMutableRawPointer.allocate(byteCount: Self.capacity, alignment: Self.alignment)
    }

    deinit { staging.deallocate() }

    /// Stages `bytes`, writing each buffer that fills.
    func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = min(Self.capacity - filled, bytes.count - done)
            (staging + filled).copyMemory(from: base + done, byteCount: n)
            filled += n
            done += n
            if filled == Self.capacity { try writeStaged(Self.capacity) }
        }
    }

    /// Writes what is staged (zero-padded to the alignment) and cuts the file to `length`
    /// bytes, the total appended.
    func finish(length: Int) throws {
        if filled > 0 {
            let padded = (filled + Self.alignment - 1) / Self.alignment * Self.alignment
            (staging + filled).initializeMemory(as: UInt8.self, repeating: 0, count: padded - filled)
            try writeStaged(padded)
        }
        guard ftruncate(fd, off_t(length)) == 0 else {
            throw CheckpointError.io(path: path, reason: "cutting the file to \(length) bytes failed: \(String(cString: strerror(errno)))")
        }
    }

    private func writeStaged(_ count: Int) throws {
        var done = 0
        while done < count {
            let n = Glibc.write(fd, staging + done, count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw CheckpointError.io(path: path, reason: "write failed: \(String(cString: strerror(errno)))") }
            // A short write leaves the next one unaligned, which O_DIRECT refuses: it is an error.
            guard n % Self.alignment == 0 || done + n == count else {
                throw CheckpointError.io(path: path, reason: "short unaligned write (\(n) of \(count - done) bytes) with the page cache bypassed")
            }
            done += n
        }
        filled = 0
    }
}
