import CohortCheckpoint
import Foundation

/// The journal's global checkpoint, written on its own thread while the next round runs.
///
/// The checkpoint is the whole model (what `--resume` starts from), so for a large model it is
/// the journal's whole cost (at 300M parameters, a 1.2 GB durable write: seconds on this
/// machine's disk), while the round records are small. The coordinator writes the records at
/// once and hands the checkpoint here; the next journal first waits for it (and rethrows its
/// error), so the records never lead the checkpoint by more than the one round a crash between
/// the two writes could leave, which `Coordinator.loadJournal` already handles. The write reads
/// the tensors it was given (shared, copy-on-write storage: no copy of the model), and the run
/// waits for it before it returns.
final class CheckpointWriteBehind: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var failure: (any Error)?

    /// Starts writing `checkpoint` to `path`; `finished(seconds)` runs on the writer's thread
    /// after a successful write.
    init(_ checkpoint: Checkpoint, to path: String, finished: @escaping @Sendable (Double) -> Void) {
        let job = HandOff(checkpoint)
        Thread { [self] in
            let start = Date()
            do {
                // Written past the page cache: read again only on --resume, and 1.2 GB of new
                // page-cache pages per round cost as much CPU as the round's training here. A
                // file system that opens with O_DIRECT but refuses the writes (an alignment it
                // does not take) gets the ordinary writer; a second failure is the error.
                do {
                    try CheckpointFile.save(job.value, to: path, options: CheckpointFile.WriteOptions(bypassPageCache: true))
                } catch CheckpointError.io {
                    try CheckpointFile.save(job.value, to: path)
                }
                finished(Date().timeIntervalSince(start))
            } catch {
                failure = error
            }
            done.signal()
        }.start()
    }

    /// Waits for the write to end; throws its error.
    func wait() throws {
        done.wait()
        done.signal()   // later waits return at once
        if let failure { throw failure }
    }
}
