import CohortTensor
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Tensors of a node's received global model kept in a temporary file instead of memory
/// while the node trains (issue 19): the node needs the global model only to form its delta
/// at the end of the round, so holding it in memory would cost a third model-sized buffer
/// beside the weights and the momentum. The file is unlinked as soon as it is made (nothing
/// is left behind by a crash) and closed with this object; the kernel's page cache keeps it
/// in memory while memory allows and writes it to disk when memory is short.
final class GlobalSpill {
    /// Where one tensor lives in the file.
    struct Entry {
        let shape: [Int]
        let offset: Int
        var count: Int { shape.reduce(1, *) }
    }

    /// The directory the file was made in (for messages).
    let directory: String
    private var fd: Int32
    private(set) var entries: [String: Entry] = [:]
    private var end = 0

    /// A new, empty, already unlinked file in `directory`.
    init(directory: String) throws {
        self.directory = directory
        var template = Array((directory.hasSuffix("/") ? directory : directory + "/").utf8CString.dropLast()) + Array("cohort-global-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw GlobalSpillError(directory: directory, operation: "create it", errno: errno) }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)   // not inherited by a child process
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        unlink(path)
        self.fd = fd
    }

    deinit { close(fd) }

    /// Appends `tensor`'s values under `name` (replacing an earlier entry of that name).
    func write(_ name: String, _ tensor: Tensor) throws {
        try tensor.data.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = pwrite(fd, raw.baseAddress! + done, min(raw.count - done, 1 << 30), off_t(end + done))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw GlobalSpillError(directory: directory, operation: "write tensor '\(name)'", errno: errno) }
                done += n
            }
        }
        entries[name] = Entry(shape: tensor.shape, offset: end)
        end += tensor.count * 4
    }

    /// Reads elements `range` of tensor `name` into `out` (which holds `range.count` floats).
    func read(_ name: String, elements range: Range<Int>, into out: UnsafeMutablePointer<Float>) throws {
        guard let entry = entries[name], range.lowerBound >= 0, range.upperBound <= entry.count else {
            throw GlobalSpillError(directory: directory, operation: "read elements \(range) of tensor '\(name)' (not in the file)", errno: 0)
        }
        let raw = UnsafeMutableRawPointer(out), bytes = range.count * 4, start = entry.offset + range.lowerBound * 4
        var done = 0
        while done < bytes {
            let n = pread(fd, raw + done, bytes - done, off_t(start + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw GlobalSpillError(directory: directory, operation: "read tensor '\(name)'" + (n == 0 ? " (the file is shorter than written)" : ""),
                                       errno: n == 0 ? 0 : errno)
            }
            done += n
        }
    }

    /// Tensor `name` read back whole into new storage.
    func load(_ name: String) throws -> Tensor {
        guard let entry = entries[name] else {
            throw GlobalSpillError(directory: directory, operation: "load tensor '\(name)' (not in the file)", errno: 0)
        }
        var values = [Float].uninitialized(count: entry.count)
        try values.withUnsafeMutableBufferPointer { b in
            if let base = b.baseAddress { try read(name, elements: 0..<entry.count, into: base) }
        }
        return Tensor(shape: entry.shape, data: values)
    }

    /// Forgets tensor `name` (its bytes stay in the file until the file is closed).
    func remove(_ name: String) { entries[name] = nil }

    /// Forgets every tensor; the next writes go from the start of the file again, over the
    /// pages it already has.
    func clear() {
        entries = [:]
        end = 0
    }
}

/// The node could not keep its received global model in its temporary file.
public struct GlobalSpillError: Error, CustomStringConvertible {
    /// The directory of the temporary file (`cohort node --spill-dir`).
    public let directory: String
    /// What was being done.
    public let operation: String
    /// The system's error number (0: none).
    public let errno: Int32
    public var description: String {
        "the received global model's temporary file in \(directory): cannot \(operation)"
            + (errno != 0 ? ": \(String(cString: strerror(errno)))" : "")
            + " (choose another directory with --spill-dir, or keep the global model in memory with --global-in-memory)"
    }
}
