import CCRC32C
import Foundation
import Synchronization

/// A small pool of persistent worker threads for splitting one kernel call across cores.
///
/// Handing work to a fresh thread or to `DispatchQueue.concurrentPerform` costs 8–18 µs here,
/// more than a small GEMM takes. Workers spin on an atomic ticket for a short while after each
/// job (so back-to-back training steps find them awake) and then sleep.
///
/// Tasks are claimed, not assigned: the caller and the workers take task indices from one
/// atomic ticket, so when a worker is asleep or has lost its core to another process, the
/// caller simply runs the remaining tasks itself instead of waiting for it.
public final class WorkerPool: @unchecked Sendable {
    /// One pool for the process, with one worker per extra core it may run on (0 with one).
    public static let shared = WorkerPool(workers: max(0, min(usableCores, 64) - 1))

    /// The cores this process may run on: its CPU affinity (`taskset`, a Slurm job's cpuset, a
    /// Kubernetes pod with exclusive CPUs), not the machine's count: a process held to one core
    /// of many would otherwise split every product across threads that all wait for that core.
    public static var usableCores: Int {
        let online = ProcessInfo.processInfo.activeProcessorCount
        let allowed = Int(cohort_affinity_cpus())
        return allowed > 0 ? min(allowed, online) : online
    }

    /// Threads that can run a job at once: the caller plus the workers.
    public let width: Int

    /// Packs (generation: high 32 bits, task count: 16 bits, next task: 16 bits), so a claim
    /// is one compare-and-swap that can never take a task from a later job.
    private let ticket = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let condition = NSCondition()
    private let callerLock = NSLock()
    private var generation = 0
    private var job: ((Int) -> Void)?

    /// How many spin iterations a worker waits for the next job before sleeping.
    private let spinLimit = 200_000

    /// A pool with `workers` background threads.
    public init(workers: Int) {
        width = workers + 1
        for index in 0..<workers {
            let thread = Thread { [unowned self] in self.workerLoop() }
            thread.name = "cohort-worker-\(index + 1)"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Runs `body(t)` for every `t` in `0..<tasks`, on the calling thread and any worker that is
    /// free; returns when all are done. Concurrent callers are serialised.
    public func run(tasks: Int, _ body: (Int) -> Void) {
        precondition(tasks >= 1 && tasks < 1 << 16, "run(tasks:) takes 1..<65536 tasks, got \(tasks)")
        if tasks == 1 || width == 1 {
            for t in 0..<tasks { body(t) }
            return
        }
        callerLock.lock()
        defer { callerLock.unlock() }
        withoutActuallyEscaping(body) { escapable in
            job = escapable
            finished.store(0, ordering: .relaxed)
            generation = (generation + 1) & 0xFFFF_FFFF
            let gen = generation
            ticket.store(gen << 32 | tasks << 16, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                condition.lock(); condition.broadcast(); condition.unlock()
            }
            while let t = claim(generation: gen) {
                escapable(t)
                finished.add(1, ordering: .releasing)
            }
            // Only tasks a worker already claimed remain; spin briefly, then yield.
            var spins = 0
            while finished.load(ordering: .acquiring) < tasks {
                spins += 1
                if spins > 2_000 { sched_yield() } else { spinHint() }
            }
            job = nil
        }
    }

    /// Takes the next task of job `generation`, or nil when it has none left (or is over).
    private func claim(generation gen: Int) -> Int? {
        var current = ticket.load(ordering: .acquiring)
        while true {
            let count = (current >> 16) & 0xFFFF, next = current & 0xFFFF
            guard current >> 32 == gen, next < count else { return nil }
            let (exchanged, original) = ticket.compareExchange(expected: current, desired: current + 1,
                                                              ordering: .acquiringAndReleasing)
            if exchanged { return next }
            current = original
        }
    }

    /// Runs a claimed task; the reference to the job closure is released before returning, so
    /// the caller's job ends with no copy of its closure left behind.
    @inline(never) private func runClaimed(_ task: Int) {
        job?(task)
    }

    private func workerLoop() {
        var seen = 0
        while true {
            var spins = 0
            while ticket.load(ordering: .acquiring) >> 32 == seen && spins < spinLimit {
                spins += 1
                if spins % 1_024 == 0 { sched_yield() } else { spinHint() }
            }
            if ticket.load(ordering: .acquiring) >> 32 == seen {
                condition.lock()
                sleepers.add(1, ordering: .sequentiallyConsistent)
                while ticket.load(ordering: .sequentiallyConsistent) >> 32 == seen { condition.wait() }
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                condition.unlock()
            }
            seen = ticket.load(ordering: .acquiring) >> 32
            // A successful claim means the caller is still waiting for this task, so `job`
            // is this generation's closure until the task is marked finished.
            while let t = claim(generation: seen) {
                runClaimed(t)
                finished.add(1, ordering: .releasing)
            }
        }
    }
}

/// An opaque call that keeps spin loops from being folded away.
@inline(never) private func spinHint() {}
