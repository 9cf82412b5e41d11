import Foundation

/// The metrics a process exports, rendered in the Prometheus text exposition format (0.0.4)
/// in registration order. Names are checked when registered; a duplicate name is an error.
public final class MetricsRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var families: [any MetricFamily] = []

    public init() {}

    /// The `Content-Type` of `render()`'s text.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public func counter(_ name: String, help: String, labels: [String] = [], initial: [[String]] = []) throws(MetricsError) -> Counter {
        for l in labels where !PrometheusFormat.isValidLabelName(l) { throw MetricsError("\(name): invalid label name '\(l)'") }
        if labels.contains("le") || labels.contains("quantile") { throw MetricsError("\(name): label names le and quantile are reserved") }
        for values in initial where values.count != labels.count {
            throw MetricsError("\(name): initial label values \(values) do not match the labels \(labels)")
        }
        return try add(Counter(name: name, help: help, labelNames: labels, initial: initial))
    }

    public func gauge(_ name: String, help: String) throws(MetricsError) -> Gauge {
        try add(Gauge(name: name, help: help))
    }

    /// `bounds`: finite, strictly increasing bucket upper bounds (`+Inf` is added).
    public func histogram(_ name: String, help: String, bounds: [Double]) throws(MetricsError) -> Histogram {
        guard !bounds.isEmpty, bounds.allSatisfy(\.isFinite), zip(bounds, bounds.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw MetricsError("\(name): bucket bounds must be finite and strictly increasing, got \(bounds)")
        }
        return try add(Histogram(name: name, help: help, bounds: bounds))
    }

    private func add<M: MetricFamily>(_ metric: M) throws(MetricsError) -> M {
        guard PrometheusFormat.isValidMetricName(metric.name) else { throw MetricsError("invalid metric name '\(metric.name)'") }
        let taken = lock.withLock { () -> Bool in
            if families.contains(where: { $0.name == metric.name }) { return true }
            families.append(metric)
            return false
        }
        if taken { throw MetricsError("metric '\(metric.name)' registered twice") }
        return metric
    }

    /// Every metric's HELP, TYPE and samples.
    public func render() -> String {
        let all = lock.withLock { families }
        var text = ""
        for f in all { f.render(into: &text) }
        return text
    }
}
