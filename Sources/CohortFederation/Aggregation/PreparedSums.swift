import Foundation

/// Zeroed accumulators made on a thread of their own while a round's MODELs go out and the
/// nodes train (issue 19): a 1.2 GB model's sum is 1.2 GB of new memory, and touching it for
/// the first time (the kernel zeroes every page) took a core for seconds at the first UPDATE's
/// first piece, while both nodes waited on their sockets.
final class PreparedSums: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var buffers: [String: [Float]] = [:]

    /// Starts making one zeroed buffer of `counts[name]` floats per name.
    init(counts: [String: Int]) {
        let thread = Thread { [self] in
            var made: [String: [Float]] = [:]
            for (name, count) in counts where count > 0 { made[name] = [Float](repeating: 0, count: count) }
            buffers = made
            done.signal()
        }
        thread.name = "cohort-prepared-sums"
        thread.start()
    }

    /// The buffers, once made (waits for the thread; call once).
    func wait() -> [String: [Float]] {
        done.wait()
        defer { buffers = [:] }
        return buffers
    }
}
