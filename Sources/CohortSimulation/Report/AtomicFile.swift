import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file so that readers see either the old file or the complete new one: the bytes go
/// to a temporary file in the same directory, which is fsynced and renamed over the target, and
/// the directory is fsynced after.
enum AtomicFile {
    static func write(_ data: Data, to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let temporary = (directory.isEmpty ? "" : directory + "/") + ".\(name).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ReportError.io(path: temporary, reason: errorText()) }
        var closed = false
        defer {
            if !closed { close(fd) }
        }
        do {
            try data.withUnsafeBytes { raw in
                var done = 0
                while done < raw.count {
                    let n = Foundation.write(fd, raw.baseAddress! + done, raw.count - done)
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else { throw ReportError.io(path: temporary, reason: errorText()) }
                    done += n
                }
            }
            guard fsync(fd) == 0 else { throw ReportError.io(path: temporary, reason: "fsync: " + errorText()) }
            closed = true
            guard close(fd) == 0 else { throw ReportError.io(path: temporary, reason: "close: " + errorText()) }
            guard rename(temporary, path) == 0 else { throw ReportError.io(path: path, reason: "rename: " + errorText()) }
        } catch {
            unlink(temporary)
            throw error
        }
        let dfd = open(directory.isEmpty ? "." : directory, O_RDONLY)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }

    private static func errorText() -> String { String(cString: strerror(errno)) }
}
