import Foundation

/// Zeroed accumulators made on a thread of their own while a round's MODELs go out and the
/// nodes train (issue 19): a 1.2 GB model's sum is 1.2 GB of new memory, and touching it for
/// the first time (the kernel zeroes every page) took a core for seconds at the first UPDATE's
/// first piece, while both nodes waited on their sockets.
final class PreparedSums: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var buffers: [String: [Float]] = [:]

    /// Starts making one zeroed buffer of `counts[name]` floats per name: `recycling[name]`
    /// zeroed in place when it has that many (memory already touched), else a new one.
    init(counts: [String: Int], recycling: consuming [String: [Float]] = [:]) {
        let handed = Handed(consume recycling)
        let thread = Thread { [self] in
            var old = handed.take()
            var made: [String: [Float]] = [:]
            for (name, count) in counts where count > 0 {
                if var buffer = old.removeValue(forKey: name), buffer.count == count {
                    buffer.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
                    made[name] = buffer
                } else {
                    made[name] = [Float](repeating: 0, count: count)
                }
            }
            old = [:]
            buffers = made
            done.signal()
        }
        thread.name = "cohort-prepared-sums"
        thread.start()
    }

    /// Moves the recycled buffers to the thread that zeroes them, holding no reference of its
    /// own afterwards (a second holder would make zeroing copy them).
    private final class Handed: @unchecked Sendable {
        private var value: [String: [Float]]
        init(_ value: consuming [String: [Float]]) { self.value = value }
        func take() -> [String: [Float]] {
            var out: [String: [Float]] = [:]
            swap(&out, &value)
            return out
        }
    }

    /// The buffers, once made (waits for the thread; call once).
    func wait() -> [String: [Float]] {
        done.wait()
        defer { buffers = [:] }
        return buffers
    }
}
