#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

extension RDPAccountant {
    /// The (ε, δ) guarantee for **replace-one** neighbours (same size N, one record replaced by
    /// another), from the accounted add/remove guarantee at fixed sampling rate by group privacy:
    /// a replacement D → D' is a removal D → D∖{x} then an addition → D', both at the same q, so
    /// an (ε₁, δ₁)-DP mechanism under add/remove is (2ε₁, (1 + e^ε₁)·δ₁)-DP under replace-one.
    ///
    /// Returns the smallest 2ε₁ over δ₁ = δ·e^(−k/20), k = 1, 2, … (down to δ₁ ≈ 10⁻³⁰⁰) with
    /// (1 + e^ε₁)·δ₁ ≤ `delta`, and the δ₁ used; ε is ∞ if no δ₁ qualifies, 0 before any step.
    /// Record-level DP-SGD reports this: its N is announced, so neighbours keep N (privacy.md).
    public func replaceOnePrivacySpent(delta: Double) -> (epsilon: Double, addRemoveDelta: Double) {
        guard delta > 0, delta < 1 else { return (.infinity, .nan) }
        if history.allSatisfy({ $0.count == 0 }) { return (0, delta / 2) }
        let values = rdp
        let logDelta = log(delta)
        var best = (epsilon: Double.infinity, addRemoveDelta: Double.nan)
        var k = 1
        while true {
            let logDelta1 = logDelta - Double(k) / 20
            guard logDelta1 > -690 else { break }
            let delta1 = exp(logDelta1)
            let eps1 = Self.epsilon(rdp: values, orders: orders, delta: delta1).epsilon
            // log((1 + e^ε₁)·δ₁) ≤ log δ, in log space so a large ε₁ cannot overflow.
            let logTotal = (eps1 > 30 ? eps1 + log1p(exp(-eps1)) : log1p(exp(eps1))) + logDelta1
            if eps1.isFinite, logTotal <= logDelta, 2 * eps1 < best.epsilon { best = (2 * eps1, delta1) }
            k += 1
        }
        return best
    }
}
