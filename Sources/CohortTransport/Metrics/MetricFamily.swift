import Foundation

/// One metric (a family of samples sharing a name, type and HELP) that renders itself in the
/// Prometheus text format. Implementations are thread-safe.
public protocol MetricFamily: AnyObject, Sendable {
    var name: String { get }
    /// Appends `# HELP`, `# TYPE` and the sample lines.
    func render(into text: inout String)
}

/// A monotonically increasing count, optionally split by labels (each label set its own series).
public final class Counter: MetricFamily, @unchecked Sendable {
    public let name: String
    let help: String
    let labelNames: [String]
    private let lock = NSLock()
    private var series: [[String]: Double] = [:]
    private var order: [[String]] = []

    /// `initial` label value sets are exported at 0 from the start (so a rate of 0 is visible).
    init(name: String, help: String, labelNames: [String], initial: [[String]]) {
        self.name = name; self.help = help; self.labelNames = labelNames
        for values in initial where values.count == labelNames.count { series[values] = 0; order.append(values) }
        if labelNames.isEmpty { series[[]] = 0; order = [[]] }
    }

    /// Adds `amount` (must be ≥ 0) to the series of `labels` (one value per label name).
    public func increment(by amount: Double = 1, labels: [String] = []) throws(MetricsError) {
        guard amount >= 0, amount.isFinite else { throw MetricsError("\(name): a counter only goes up, got \(amount)") }
        guard labels.count == labelNames.count else {
            throw MetricsError("\(name): expected \(labelNames.count) label value(s) for \(labelNames), got \(labels.count)")
        }
        lock.withLock {
            if series[labels] == nil { order.append(labels) }
            series[labels, default: 0] += amount
        }
    }

    /// The current value of one series (0 if never incremented).
    public func value(labels: [String] = []) -> Double { lock.withLock { series[labels] ?? 0 } }

    public func render(into text: inout String) {
        text += "# HELP \(name) \(PrometheusFormat.escapeHelp(help))\n# TYPE \(name) counter\n"
        let snapshot = lock.withLock { order.map { ($0, series[$0] ?? 0) } }
        for (labels, v) in snapshot {
            text += "\(name)\(PrometheusFormat.labels(labelNames, labels)) \(PrometheusFormat.value(v))\n"
        }
    }
}

/// A value that goes up and down: set directly, or read from a closure at every scrape.
/// Unset (and without a closure) it exports no sample.
public final class Gauge: MetricFamily, @unchecked Sendable {
    public let name: String
    let help: String
    private let lock = NSLock()
    private var current: Double?
    private var source: (@Sendable () -> Double)?

    init(name: String, help: String) { self.name = name; self.help = help }

    public func set(_ value: Double) { lock.withLock { current = value; source = nil } }
    /// Reads the value from `source` at each scrape (replacing any set value).
    public func track(_ source: @escaping @Sendable () -> Double) { lock.withLock { self.source = source } }
    public var value: Double? { let (c, s) = lock.withLock { (current, source) }; return s?() ?? c }

    public func render(into text: inout String) {
        text += "# HELP \(name) \(PrometheusFormat.escapeHelp(help))\n# TYPE \(name) gauge\n"
        if let v = value { text += "\(name) \(PrometheusFormat.value(v))\n" }
    }
}

/// Observations counted into cumulative buckets (`le` upper bounds, then `+Inf`), with their sum.
public final class Histogram: MetricFamily, @unchecked Sendable {
    public let name: String
    let help: String
    let bounds: [Double]
    private let lock = NSLock()
    private var counts: [UInt64]
    private var sum = 0.0

    init(name: String, help: String, bounds: [Double]) {
        self.name = name; self.help = help; self.bounds = bounds
        counts = Array(repeating: 0, count: bounds.count + 1)
    }

    /// Counts `x` in the first bucket whose bound is ≥ x (non-finite values are refused).
    public func observe(_ x: Double) throws(MetricsError) {
        guard x.isFinite else { throw MetricsError("\(name): cannot observe \(x)") }
        let i = bounds.firstIndex { x <= $0 } ?? bounds.count
        lock.withLock { counts[i] += 1; sum += x }
    }

    /// Observations so far and their sum.
    public var snapshot: (count: UInt64, sum: Double) { lock.withLock { (counts.reduce(0, +), sum) } }

    public func render(into text: inout String) {
        text += "# HELP \(name) \(PrometheusFormat.escapeHelp(help))\n# TYPE \(name) histogram\n"
        let (c, s) = lock.withLock { (counts, sum) }
        var cumulative: UInt64 = 0
        for (i, bound) in bounds.enumerated() {
            cumulative += c[i]
            text += "\(name)_bucket{le=\"\(PrometheusFormat.value(bound))\"} \(cumulative)\n"
        }
        cumulative += c[bounds.count]
        text += "\(name)_bucket{le=\"+Inf\"} \(cumulative)\n\(name)_sum \(PrometheusFormat.value(s))\n\(name)_count \(cumulative)\n"
    }
}
