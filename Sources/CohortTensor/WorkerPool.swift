import Foundation
import Synchronization

/// A small pool of persistent worker threads for splitting one kernel call across cores.
///
/// Handing work to a fresh thread or to `DispatchQueue.concurrentPerform` costs 8–18 µs here,
/// more than a small GEMM takes. Workers here spin on an atomic generation counter for a short
/// while after each job (so back-to-back training steps find them awake) and then sleep.
public final class WorkerPool: @unchecked Sendable {
    /// One pool for the process, with one worker per extra core (0 on a single-core machine).
    public static let shared = WorkerPool(
        workers: max(0, min(ProcessInfo.processInfo.activeProcessorCount, 64) - 1))

    /// Threads that can run a job at once: the caller plus the workers.
    public let width: Int

    private let generation = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let condition = NSCondition()
    private let callerLock = NSLock()
    private var job: ((Int) -> Void)?
    private var jobTasks = 0

    /// How many spin iterations a worker waits for the next job before sleeping.
    private let spinLimit = 200_000

    /// A pool with `workers` background threads.
    public init(workers: Int) {
        width = workers + 1
        for index in 0..<workers {
            let thread = Thread { [unowned self] in self.workerLoop(index: index + 1) }
            thread.name = "cohort-worker-\(index + 1)"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Runs `body(t)` for every `t` in `0..<tasks`, task 0 on the calling thread, the rest on
    /// workers; returns when all are done. `tasks` must not exceed `width`. Concurrent callers
    /// are serialised.
    public func run(tasks: Int, _ body: (Int) -> Void) {
        precondition(tasks >= 1 && tasks <= width, "run(tasks:) takes 1...\(width) tasks, got \(tasks)")
        if tasks == 1 { body(0); return }
        callerLock.lock()
        defer { callerLock.unlock() }
        withoutActuallyEscaping(body) { escapable in
            job = escapable
            jobTasks = tasks
            // Every worker answers each generation, even those without a task this time.
            pending.store(width - 1, ordering: .releasing)
            generation.add(1, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                condition.lock(); condition.broadcast(); condition.unlock()
            }
            escapable(0)
            // Spin briefly, then yield: if a worker lost its core to another process, spinning
            // would only keep it from running.
            var spins = 0
            while pending.load(ordering: .acquiring) > 0 {
                spins += 1
                if spins > 2_000 { sched_yield() } else { spinHint() }
            }
            job = nil
        }
    }

    private func workerLoop(index: Int) {
        // The baseline is the generation at construction: a job posted before this thread
        // first runs must still be seen as new.
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen && spins < spinLimit {
                spins += 1
                if spins % 1_024 == 0 { sched_yield() } else { spinHint() }
            }
            if generation.load(ordering: .acquiring) == seen {
                condition.lock()
                sleepers.add(1, ordering: .sequentiallyConsistent)
                while generation.load(ordering: .sequentiallyConsistent) == seen { condition.wait() }
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                condition.unlock()
            }
            seen = generation.load(ordering: .acquiring)
            if index < jobTasks, let work = job { work(index) }
            pending.subtract(1, ordering: .releasing)
        }
    }
}

/// Tells the optimiser the loop has a side effect-free body that must still re-read atomics.
@inline(never) private func spinHint() {}
