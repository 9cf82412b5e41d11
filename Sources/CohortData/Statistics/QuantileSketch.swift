/// A mergeable, bounded summary of a numeric column for quantiles (medians) and the most
/// frequent value: sorted distinct `values` with integer `weights` (how many observations each
/// stands for). Built exactly while a column has at most `capacity` distinct values; beyond that
/// neighbouring values are pooled into `capacity` points of about equal weight, so a quantile's
/// rank is off by at most `count / capacity` observations. Merging concatenates and compresses
/// again. Spec: protocols/dataset-schema.md, "Federated statistics".
public struct QuantileSketch: Codable, Equatable, Sendable {
    /// Points a node sends by default.
    public static let defaultCapacity = 256
    /// Largest capacity a plan may ask for (and a received sketch may have).
    public static let maxCapacity = 4096

    /// Distinct values, ascending.
    public var values: [Double]
    /// Observations per value, each ≥ 1.
    public var weights: [Int]

    /// A sketch with the given points (not checked; see `problem(count:capacity:)`).
    public init(values: [Double], weights: [Int]) {
        self.values = values
        self.weights = weights
    }

    /// The sketch of `sorted` (ascending, finite) with at most `capacity` points.
    public init(sorted: [Float], capacity: Int) {
        var values: [Double] = [], weights: [Int] = []
        var i = 0
        while i < sorted.count {
            var j = i
            while j < sorted.count && sorted[j] == sorted[i] { j += 1 }
            values.append(Double(sorted[i]))
            weights.append(j - i)
            i = j
        }
        self = QuantileSketch(values: values, weights: weights).compressed(capacity: capacity)
    }

    /// Observations summarised.
    public var count: Int { weights.reduce(0, +) }

    /// Several sketches as one, with at most `capacity` points.
    public static func merge(_ sketches: [QuantileSketch], capacity: Int) -> QuantileSketch {
        var points: [(Double, Int)] = []
        points.reserveCapacity(sketches.reduce(0) { $0 + $1.values.count })
        for s in sketches { for (v, w) in zip(s.values, s.weights) { points.append((v, w)) } }
        points.sort { $0.0 < $1.0 }
        var values: [Double] = [], weights: [Int] = []
        for (v, w) in points {
            if let last = values.last, last == v { weights[weights.count - 1] += w } else { values.append(v); weights.append(w) }
        }
        return QuantileSketch(values: values, weights: weights).compressed(capacity: capacity)
    }

    /// At most `capacity` points: consecutive points pooled into buckets of about `count / capacity`
    /// observations, each represented by the value at its middle observation.
    func compressed(capacity: Int) -> QuantileSketch {
        let cap = max(1, capacity)
        guard values.count > cap else { return self }
        let bucket = (count + cap - 1) / cap
        var outValues: [Double] = [], outWeights: [Int] = []
        var start = 0
        while start < values.count {
            var end = start, weight = 0
            while end < values.count && weight < bucket { weight += weights[end]; end += 1 }
            var cumulative = 0, representative = values[start]
            for t in start..<end {
                cumulative += weights[t]
                if cumulative > weight / 2 { representative = values[t]; break }
            }
            if let last = outValues.last, last == representative { outWeights[outWeights.count - 1] += weight } else {
                outValues.append(representative)
                outWeights.append(weight)
            }
            start = end
        }
        return QuantileSketch(values: outValues, weights: outWeights)
    }

    /// The `k`-th smallest observation (0-based) the sketch stands for.
    public func orderStatistic(_ k: Int) -> Double? {
        var cumulative = 0
        for (v, w) in zip(values, weights) {
            cumulative += w
            if k < cumulative { return v }
        }
        return nil
    }

    /// The median: the middle observation, or the mean of the middle two for an even count
    /// (as the pooled fit computes it); exact while the sketch is.
    public var median: Double? {
        let n = count
        guard n > 0, let hi = orderStatistic(n / 2) else { return nil }
        if n % 2 == 1 { return hi }
        guard let lo = orderStatistic(n / 2 - 1) else { return nil }
        return 0.5 * (lo + hi)
    }

    /// The value with the most observations (the smallest on a tie).
    public var mode: Double? {
        var best: Double? = nil, bestWeight = 0
        for (v, w) in zip(values, weights) where w > bestWeight { best = v; bestWeight = w }
        return best
    }

    /// What is wrong with a received sketch meant to summarise `count` observations, or nil.
    public func problem(count expected: Int, capacity: Int) -> String? {
        guard values.count <= capacity, weights.count <= capacity else { return "\(max(values.count, weights.count)) points, more than the \(capacity) asked for" }
        guard values.count == weights.count else { return "\(values.count) values for \(weights.count) weights" }
        var total = 0
        for (i, (v, w)) in zip(values, weights).enumerated() {
            guard v.isFinite else { return "value \(i) is \(v)" }
            guard w >= 1 else { return "weight \(i) is \(w)" }
            if i > 0 && !(values[i - 1] < v) { return "values are not strictly ascending at point \(i)" }
            let (sum, overflow) = total.addingReportingOverflow(w)
            guard !overflow else { return "weights overflow" }
            total = sum
        }
        guard total == expected else { return "weights sum to \(total), the count is \(expected)" }
        return nil
    }
}
