import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reading the small files an operator names (secrets, TLS keys, plans) safely: opened without
/// blocking, so a FIFO cannot hang the process; only regular files; and, for secrets, only
/// files nobody but the owner can read or write (as ssh insists for private keys).
public enum LocalFile {
    /// Largest file read by `read` (secrets, keys and plans are far smaller).
    public static let defaultLimit = 16 << 20

    /// The bytes of the regular file at `path` (at most `limit`). With `secret`, a file whose
    /// mode grants group or others any access is refused with the `chmod 600` fix named.
    /// `what` names the file in errors ("secrets file", "TLS private key", ...).
    public static func read(_ path: String, what: String, secret: Bool = false, limit: Int = defaultLimit) throws(LocalFileError) -> [UInt8] {
        let fd = try open(path, what: what, secret: secret)
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .unreadable(path: path, what: what, reason: String(cString: strerror(errno))) }
        guard Int(st.st_size) <= limit else { throw .tooLarge(path: path, what: what, bytes: Int(st.st_size), limit: limit) }
        var out = [UInt8](repeating: 0, count: Int(st.st_size))
        var done = 0
        while done < out.count {
            let n = out.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                if n == 0 { break }
                throw .unreadable(path: path, what: what, reason: String(cString: strerror(errno)))
            }
            done += n
        }
        return Array(out[0..<done])
    }

    /// The UTF-8 text of the regular file at `path` (see `read`).
    public static func text(_ path: String, what: String, secret: Bool = false, limit: Int = defaultLimit) throws(LocalFileError) -> String {
        let bytes = try read(path, what: what, secret: secret, limit: limit)
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .unreadable(path: path, what: what, reason: "not UTF-8 text") }
        return text
    }

    /// Checks that `path` is a regular file (and with `secret`, private to its owner) without
    /// reading it: for files another library opens (OpenSSL's key and certificate files).
    public static func check(_ path: String, what: String, secret: Bool = false) throws(LocalFileError) {
        close(try open(path, what: what, secret: secret))
    }

    /// Opens `path` read-only and non-blocking, and checks its type and (with `secret`) mode.
    private static func open(_ path: String, what: String, secret: Bool) throws(LocalFileError) -> Int32 {
        let fd = Glibc.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { throw .unreadable(path: path, what: what, reason: String(cString: strerror(errno))) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let reason = String(cString: strerror(errno)); close(fd)
            throw .unreadable(path: path, what: what, reason: reason)
        }
        let type = st.st_mode & S_IFMT
        guard type == S_IFREG else {
            close(fd)
            throw .notRegular(path: path, what: what, kind: kindName(type))
        }
        if secret && st.st_mode & 0o077 != 0 {
            close(fd)
            throw .tooOpen(path: path, what: what, mode: UInt32(st.st_mode & 0o7777))
        }
        return fd
    }

    static func kindName(_ type: mode_t) -> String {
        switch type {
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        default: return "not a regular file"
        }
    }
}

/// Why `LocalFile` would not read a file.
public enum LocalFileError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String, what: String, reason: String)
    case notRegular(path: String, what: String, kind: String)
    case tooOpen(path: String, what: String, mode: UInt32)
    case tooLarge(path: String, what: String, bytes: Int, limit: Int)

    public var description: String {
        switch self {
        case let .unreadable(path, what, reason): return "cannot read \(what) '\(path)': \(reason)"
        case let .notRegular(path, what, kind): return "\(what) '\(path)' is \(kind), not a regular file"
        case let .tooOpen(path, what, mode):
            return "\(what) '\(path)' has permissions \(String(format: "%04o", mode)): it must not be accessible by group or others; "
                + "run: chmod 600 '\(path)'"
        case let .tooLarge(path, what, bytes, limit): return "\(what) '\(path)' has \(bytes) bytes, more than the \(limit) allowed"
        }
    }
}
