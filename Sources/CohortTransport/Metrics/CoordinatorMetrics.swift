import Foundation

/// The coordinator's metrics (`cohort coordinator --metrics-listen`): what an operator scrapes
/// to follow a run. The coordinator calls the hooks below; names and meanings are listed in
/// protocols/metrics.md.
public final class CoordinatorMetrics: @unchecked Sendable {
    /// Why an update was not aggregated.
    public enum RejectionReason: String, CaseIterable, Sendable {
        /// The update failed to arrive intact or failed its checks (decode, shape, version, norm).
        case invalid
        /// It arrived after the round had closed.
        case late
        /// Nothing arrived before the round timeout (or its reading was cut off by it).
        case timeout
        /// The node was sampled but not connected.
        case notConnected = "not_connected"
    }

    public let registry = MetricsRegistry()
    let roundsCompleted: Gauge
    let roundsPlanned: Gauge
    let roundDuration: Histogram
    let connectedNodes: Gauge
    let accepted: Counter
    let rejected: Counter
    let bytesUp: Counter
    let bytesDown: Counter
    let epsilon: Gauge
    let lastJournalWrite: Gauge
    private let lock = NSLock()
    private var isReady = false

    /// Round-duration buckets, seconds: from sub-second simulations to half-hour WAN rounds.
    public static let durationBounds: [Double] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800]

    /// Registers every metric (the names are constants; an error here is a bug in this file).
    public init(plannedRounds: Int) throws(MetricsError) {
        let r = registry
        roundsCompleted = try r.gauge("cohort_rounds_completed", help: "Rounds completed and journaled in this run (resumed runs included).")
        roundsPlanned = try r.gauge("cohort_rounds_planned", help: "Rounds the run is configured for (--rounds).")
        roundDuration = try r.histogram("cohort_round_duration_seconds", help: "Wall time of each round completed by this process, from sending the model to aggregating.", bounds: Self.durationBounds)
        connectedNodes = try r.gauge("cohort_connected_nodes", help: "Authenticated nodes connected now.")
        accepted = try r.counter("cohort_updates_accepted_total", help: "Updates aggregated into a journaled round.")
        rejected = try r.counter("cohort_updates_rejected_total", help: "Updates not aggregated, by reason (invalid, late, timeout, not_connected).",
                                   labels: ["reason"], initial: RejectionReason.allCases.map { [$0.rawValue] })
        bytesUp = try r.counter("cohort_bytes_up_total", help: "Bytes of updates received from nodes in journaled rounds.")
        bytesDown = try r.counter("cohort_bytes_down_total", help: "Bytes of models sent to nodes in journaled rounds.")
        epsilon = try r.gauge("cohort_privacy_epsilon_spent", help: "Differential privacy: epsilon spent by the run so far (absent without privacy).")
        lastJournalWrite = try r.gauge("cohort_last_journal_write_timestamp_seconds", help: "Unix time of the last round journaled (rounds.jsonl and global.ckpt).")
        roundsPlanned.set(Double(plannedRounds))
        roundsCompleted.set(0)
    }

    /// True once the coordinator listens for nodes (`/readyz`).
    public var ready: Bool { lock.withLock { isReady } }

    /// Hook: the coordinator listens; `connected` reports its connected nodes at each scrape.
    public func coordinatorStarted(connected: @escaping @Sendable () -> Int) {
        connectedNodes.track { Double(connected()) }
        lock.withLock { isReady = true }
    }

    /// Hook: a round was journaled.
    public func roundJournaled(round: Int, seconds: Double, accepted count: Int, bytesUp up: Int, bytesDown down: Int,
                               epsilon spent: Double?, at time: Double = Date().timeIntervalSince1970) {
        roundsCompleted.set(Double(round))
        try? roundDuration.observe(seconds)
        try? accepted.increment(by: Double(max(0, count)))
        try? bytesUp.increment(by: Double(max(0, up)))
        try? bytesDown.increment(by: Double(max(0, down)))
        if let spent, spent.isFinite { epsilon.set(spent) }
        lastJournalWrite.set(time)
    }

    /// Hook: an update was not aggregated.
    public func updateRejected(_ reason: RejectionReason) {
        try? rejected.increment(labels: [reason.rawValue])
    }

    /// A resumed run: progress, ε and the last write as the journal records them (counters
    /// restart at 0 with the process, as Prometheus expects of counters).
    public func restored(rounds: Int, epsilon spent: Double?, lastWrite: Double?) {
        roundsCompleted.set(Double(rounds))
        if let spent, spent.isFinite { epsilon.set(spent) }
        if let lastWrite { lastJournalWrite.set(lastWrite) }
    }
}
