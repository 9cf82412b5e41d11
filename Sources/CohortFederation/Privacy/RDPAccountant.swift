#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// A Rényi-DP accountant for the sampled Gaussian mechanism, converted to (ε, δ).
///
/// Each round of DP-FedAvg is one step of the mechanism: nodes are Poisson-sampled at rate q,
/// each clipped update has L2 sensitivity C, and Gaussian noise of standard deviation σ·C is
/// added to their sum (σ is the noise multiplier). The accountant adds up the RDP of every step
/// at each order α of `orders`, and converts to ε at a given δ with the conversion of Balle et
/// al. 2020 ("Hypothesis testing interpretations and Rényi differential privacy", Theorem 21):
///
///     ε(α) = RDP(α) − (log δ + log α) / (α − 1) + log((α − 1) / α),   ε = min over α,
///
/// the same computation (RDP of the sampled Gaussian, orders, conversion) as Opacus 1.6's
/// `RDPAccountant`; `Tests/CohortFederationTests/Fixtures/rdp-reference.json` holds Opacus's
/// own answers for a grid of (q, σ, steps, δ). The only difference: a (never observed)
/// negative ε is reported as 0.
public struct RDPAccountant: Sendable, Equatable, Codable {
    /// A run of identical mechanism steps.
    public struct Step: Sendable, Equatable, Codable {
        /// σ: noise standard deviation divided by the L2 sensitivity (the clip norm).
        public var noiseMultiplier: Double
        /// q: probability that a given node takes part in the step.
        public var sampleRate: Double
        /// How many steps ran with these settings.
        public var count: Int
    }

    /// Opacus's default orders: 1.1, 1.2, …, 10.9 and 12, 13, …, 63.
    public static let defaultOrders: [Double] = (1...99).map { 1 + Double($0) / 10 } + (12...63).map(Double.init)

    /// The RDP orders α (> 1) at which the guarantee is tracked.
    public let orders: [Double]
    /// The steps taken so far; consecutive steps with the same settings share one entry.
    public private(set) var history: [Step] = []

    /// An accountant with nothing spent. Orders must all be > 1.
    public init(orders: [Double] = RDPAccountant.defaultOrders) {
        precondition(!orders.isEmpty && orders.allSatisfy { $0 > 1 }, "RDP orders must be non-empty and all > 1")
        self.orders = orders
    }

    /// Records `count` steps at noise multiplier σ and sampling rate q.
    public mutating func step(noiseMultiplier: Double, sampleRate: Double, count: Int = 1) {
        precondition(noiseMultiplier >= 0 && noiseMultiplier.isFinite, "noise multiplier must be finite and ≥ 0, got \(noiseMultiplier)")
        precondition(sampleRate >= 0 && sampleRate <= 1, "sampling rate must be in [0, 1], got \(sampleRate)")
        precondition(count >= 0, "step count must be ≥ 0, got \(count)")
        if let last = history.last, last.noiseMultiplier == noiseMultiplier, last.sampleRate == sampleRate {
            history[history.count - 1].count += count
        } else {
            history.append(Step(noiseMultiplier: noiseMultiplier, sampleRate: sampleRate, count: count))
        }
    }

    /// This accountant with `count` more steps: what ε would be if the next round ran (to stop
    /// before a budget is exceeded).
    public func adding(noiseMultiplier: Double, sampleRate: Double, count: Int = 1) -> RDPAccountant {
        var copy = self
        copy.step(noiseMultiplier: noiseMultiplier, sampleRate: sampleRate, count: count)
        return copy
    }

    /// The accumulated RDP at each of `orders`.
    public var rdp: [Double] {
        var total = [Double](repeating: 0, count: orders.count)
        for s in history where s.count > 0 {
            for (k, a) in orders.enumerated() {
                total[k] += Double(s.count) * SampledGaussianRDP.rdp(q: s.sampleRate, sigma: s.noiseMultiplier, order: a)
            }
        }
        return total
    }

    /// ε spent so far at `delta`, with the order that achieves it (ε = 0 before any step).
    public func privacySpent(delta: Double) -> (epsilon: Double, order: Double) {
        if history.allSatisfy({ $0.count == 0 }) { return (0, orders[0]) }
        return Self.epsilon(rdp: rdp, orders: orders, delta: delta)
    }

    /// ε spent so far at `delta`.
    public func epsilon(delta: Double) -> Double { privacySpent(delta: delta).epsilon }

    /// RDP of one step of the sampled Gaussian mechanism at order α.
    public static func rdp(sampleRate q: Double, noiseMultiplier sigma: Double, order alpha: Double) -> Double {
        SampledGaussianRDP.rdp(q: q, sigma: sigma, order: alpha)
    }

    /// ε after `steps` identical steps, at `delta`.
    public static func epsilon(sampleRate q: Double, noiseMultiplier sigma: Double, steps: Int, delta: Double,
                               orders: [Double] = defaultOrders) -> Double {
        var a = RDPAccountant(orders: orders)
        a.step(noiseMultiplier: sigma, sampleRate: q, count: steps)
        return a.epsilon(delta: delta)
    }

    /// Converts RDP values (one per order) to (ε, δ)-DP by Balle et al. 2020, Theorem 21,
    /// taking the best order. Orders whose value is NaN are skipped; ε is ∞ if none is usable.
    public static func epsilon(rdp: [Double], orders: [Double], delta: Double) -> (epsilon: Double, order: Double) {
        precondition(rdp.count == orders.count, "one RDP value per order: \(rdp.count) values, \(orders.count) orders")
        precondition(delta > 0 && delta < 1, "δ must be in (0, 1), got \(delta)")
        var best = (epsilon: Double.infinity, order: Double.nan)
        for (r, a) in zip(rdp, orders) {
            let e = r - (log(delta) + log(a)) / (a - 1) + log((a - 1) / a)
            if !e.isNaN, e < best.epsilon || best.order.isNaN { best = (e, a) }
        }
        return (max(0, best.epsilon), best.order)
    }

    /// The noise multiplier σ that keeps ε ≤ `epsilon` at `delta` after `steps` steps at rate q:
    /// σ is doubled from 20 until the budget holds, then bisected until ε is within `tolerance`
    /// below the target (the answer always satisfies the budget). Throws when even σ = 10⁶ does not.
    public static func noiseMultiplier(forEpsilon epsilon: Double, delta: Double, sampleRate q: Double, steps: Int,
                                       orders: [Double] = defaultOrders, tolerance: Double = 0.01) throws(PrivacyError) -> Double {
        guard epsilon > 0, epsilon.isFinite else { throw PrivacyError("target ε must be positive and finite, got \(epsilon)") }
        guard tolerance > 0 else { throw PrivacyError("ε tolerance must be positive, got \(tolerance)") }
        func eps(_ sigma: Double) -> Double { Self.epsilon(sampleRate: q, noiseMultiplier: sigma, steps: steps, delta: delta, orders: orders) }
        var low = 0.0, high = 20.0
        var epsHigh = eps(high)
        while epsHigh > epsilon {
            low = high
            high *= 2
            guard high <= 1e6 else {
                throw PrivacyError("no noise multiplier up to 10⁶ keeps ε ≤ \(epsilon) at δ = \(delta) over \(steps) steps at q = \(q)")
            }
            epsHigh = eps(high)
        }
        while epsilon - epsHigh > tolerance {
            let mid = (low + high) / 2
            let e = eps(mid)
            if e < epsilon { (high, epsHigh) = (mid, e) } else { low = mid }
        }
        return high
    }
}
