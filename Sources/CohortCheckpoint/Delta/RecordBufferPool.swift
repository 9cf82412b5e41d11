import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Mapped record buffers kept after their records go, for the next records of about the same
/// size (`RecordStorage`): a record gathered into a fresh mapping pays a page fault and a
/// zeroed page per 4 KiB it fills (about 2 GB/s here, whatever the copy's speed), one gathered
/// into a buffer already mapped and touched is a copy (about 20 GB/s). Rounds bring records of
/// the same tensors again and again, so the sizes recur.
///
/// What is kept is bounded by `retainLimit` bytes (oldest buffers unmapped first), and only
/// buffers under `RecordStorage.hugeThreshold` are kept: a reused buffer is resident whole
/// while a record is partly gathered into it (a node waiting for buffer room), where a fresh
/// mapping holds only the pages written, so a pooled buffer can cost its unfilled part on
/// top of what is kept. Both together stay under twice the limit.
public enum DeltaRecordBuffers {
    /// The default `retainLimit`: 0, nothing kept. A plain round's coordinator holds only its
    /// update buffer's worth of records (4 MiB by default), and a kept buffer is resident whole
    /// where a fresh one holds only what was written: a limit of 32 MiB took the coordinator of
    /// `cohort bench aggregate --memory --updates 50` (a 40 MB model) from 2.98× to 3.06× the
    /// model at its peak, over the 3× floor, for no gain in its round. A process that holds
    /// whole updates anyway (screening, `cohort bench aggregate`'s kept records) raises it to
    /// what it holds: its peak does not grow, and the next round's records are a copy.
    public static let defaultRetainLimit = 0

    /// Bytes of freed record buffers kept for reuse (0: none; see `defaultRetainLimit`).
    public static var retainLimit: Int {
        get { RecordBufferPool.shared.limit }
        set { RecordBufferPool.shared.setLimit(newValue) }
    }

    /// Bytes kept now (for tests and benchmarks).
    public static var retainedBytes: Int { RecordBufferPool.shared.retained }

    /// Unmaps every kept buffer.
    public static func releaseRetained() { RecordBufferPool.shared.setLimit(RecordBufferPool.shared.limit, evictAll: true) }
}

/// The process's pool of freed record mappings (see `DeltaRecordBuffers`).
final class RecordBufferPool: @unchecked Sendable {
    static let shared = RecordBufferPool(limit: DeltaRecordBuffers.defaultRetainLimit)

    private let lock = NSLock()
    private var limitBytes: Int
    /// Kept mappings, oldest first.
    private var kept: [(mapping: UnsafeMutableRawPointer, length: Int)] = []
    private var keptBytes = 0

    init(limit: Int) { limitBytes = max(0, limit) }

    var limit: Int { lock.withLock { limitBytes } }
    var retained: Int { lock.withLock { keptBytes } }

    /// Sets the limit, unmapping the oldest kept buffers over it (or all, with `evictAll`).
    func setLimit(_ newLimit: Int, evictAll: Bool = false) {
        let evicted = lock.withLock { () -> [(mapping: UnsafeMutableRawPointer, length: Int)] in
            limitBytes = max(0, newLimit)
            return evictLocked(toFit: evictAll ? limitBytes + 1 : 0)
        }
        for e in evicted { munmap(e.mapping, e.length) }
    }

    /// A kept mapping of at least `length` bytes and at most twice that (the smallest such),
    /// removed from the pool; nil when there is none.
    func take(length: Int) -> (mapping: UnsafeMutableRawPointer, length: Int)? {
        lock.withLock {
            var best: Int? = nil
            for (i, e) in kept.enumerated() where e.length >= length && e.length <= 2 * length {
                if best == nil || e.length < kept[best!].length { best = i }
            }
            guard let best else { return nil }
            let e = kept.remove(at: best)
            keptBytes -= e.length
            return e
        }
    }

    /// Keeps `mapping` (of `length` bytes) for reuse if it fits under the limit, unmapping the
    /// oldest kept ones to make room; otherwise unmaps it.
    func give(_ mapping: UnsafeMutableRawPointer, length: Int) {
        let evicted = lock.withLock { () -> [(mapping: UnsafeMutableRawPointer, length: Int)] in
            guard length <= limitBytes else { return [(mapping, length)] }
            let out = evictLocked(toFit: length)
            kept.append((mapping, length))
            keptBytes += length
            return out
        }
        for e in evicted { munmap(e.mapping, e.length) }
    }

    /// Removes the oldest kept buffers until `extra` more bytes fit under the limit.
    private func evictLocked(toFit extra: Int) -> [(mapping: UnsafeMutableRawPointer, length: Int)] {
        var out: [(mapping: UnsafeMutableRawPointer, length: Int)] = []
        while !kept.isEmpty && keptBytes + extra > limitBytes {
            let e = kept.removeFirst()
            keptBytes -= e.length
            out.append(e)
        }
        return out
    }
}
