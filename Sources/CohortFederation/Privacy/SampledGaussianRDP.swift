#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Rényi differential privacy of the sampled Gaussian mechanism (Mironov, Talwar, Zhang 2019,
/// "Rényi Differential Privacy of the Sampled Gaussian Mechanism", §3.3): a Gaussian of standard
/// deviation σ (in units of the L2 sensitivity) added to the sum over a Poisson sample taken at
/// rate q. All arithmetic is in log space so that large orders and tiny q neither overflow nor
/// underflow. The same quantities Opacus computes in `accountants/analysis/rdp.py`.
enum SampledGaussianRDP {
    /// RDP ε(α) of one step. 0 when q = 0, ∞ when σ = 0, α/(2σ²) when q = 1 (no sampling).
    static func rdp(q: Double, sigma: Double, order alpha: Double) -> Double {
        precondition(q >= 0 && q <= 1, "sampling rate q must be in [0, 1], got \(q)")
        precondition(sigma >= 0, "noise multiplier must be ≥ 0, got \(sigma)")
        precondition(alpha > 1, "RDP order must be > 1, got \(alpha)")
        if q == 0 { return 0 }
        if sigma == 0 { return .infinity }
        if q == 1 { return alpha / (2 * sigma * sigma) }
        if alpha.isInfinite { return .infinity }
        let logA = alpha == alpha.rounded() && alpha < Double(Int.max)
            ? logAIntegerOrder(q: q, sigma: sigma, alpha: Int(alpha))
            : logAFractionalOrder(q: q, sigma: sigma, alpha: alpha)
        return logA / (alpha - 1)
    }

    /// log A_α for integer α: the binomial expansion
    /// A_α = Σ_{i=0}^{α} C(α, i) q^i (1−q)^{α−i} exp((i² − i) / (2σ²)).
    static func logAIntegerOrder(q: Double, sigma: Double, alpha: Int) -> Double {
        let logQ = log(q), log1mQ = log1p(-q), twoSigma2 = 2 * sigma * sigma
        var logA = -Double.infinity
        var logBinomial = 0.0  // log C(α, i), built up term by term
        for i in 0...alpha {
            if i > 0 { logBinomial += log(Double(alpha - i + 1)) - log(Double(i)) }
            let di = Double(i)
            let term = logBinomial + di * logQ + Double(alpha - i) * log1mQ + (di * di - di) / twoSigma2
            logA = logAdd(logA, term)
        }
        return logA
    }

    /// log A_α for fractional α: the two-sided series with the real binomial coefficients
    /// C(α, i) (which change sign past i > α), each term weighted by the Gaussian tail mass on its
    /// side of z₀ = σ² log(1/q − 1) + ½; summed until both sides' terms fall below e^−30.
    static func logAFractionalOrder(q: Double, sigma: Double, alpha: Double) -> Double {
        let logQ = log(q), log1mQ = log1p(-q), twoSigma2 = 2 * sigma * sigma
        let z0 = sigma * sigma * log(1 / q - 1) + 0.5
        let rootTwoSigma = 2.0.squareRoot() * sigma
        var logA0 = -Double.infinity, logA1 = -Double.infinity
        var logCoef = 0.0, coefPositive = true  // log|C(α, i)| and its sign
        var i = 0
        while true {
            if i > 0 {
                let factor = (alpha - Double(i - 1)) / Double(i)
                logCoef += log(abs(factor))
                if factor < 0 { coefPositive.toggle() }
            }
            let di = Double(i), j = alpha - di
            let logT0 = logCoef + di * logQ + j * log1mQ
            let logT1 = logCoef + j * logQ + di * log1mQ
            let logE0 = log(0.5) + logErfc((di - z0) / rootTwoSigma)
            let logE1 = log(0.5) + logErfc((z0 - j) / rootTwoSigma)
            let logS0 = logT0 + (di * di - di) / twoSigma2 + logE0
            let logS1 = logT1 + (j * j - j) / twoSigma2 + logE1
            if coefPositive {
                logA0 = logAdd(logA0, logS0)
                logA1 = logAdd(logA1, logS1)
            } else {
                logA0 = logSub(logA0, logS0)
                logA1 = logSub(logA1, logS1)
            }
            i += 1
            if max(logS0, logS1) < -30 || i > 100_000 { break }
        }
        return logAdd(logA0, logA1)
    }

    /// log(eˣ + eʸ) without leaving log space.
    static func logAdd(_ x: Double, _ y: Double) -> Double {
        let (a, b) = (min(x, y), max(x, y))
        if a == -.infinity { return b }
        return log1p(exp(a - b)) + b
    }

    /// log(eˣ − eʸ) for x ≥ y; NaN when the difference would be negative (the order is then
    /// unusable and the conversion to (ε, δ) skips it).
    static func logSub(_ x: Double, _ y: Double) -> Double {
        if x.isNaN || y.isNaN || x < y { return .nan }
        if y == -.infinity { return x }
        if x == y { return -.infinity }
        let d = x - y
        if d > 700 { return x }  // e^d − 1 = e^d to double precision
        return log(expm1(d)) + y
    }

    /// log(erfc(x)), accurate far into the upper tail where erfc itself underflows.
    static func logErfc(_ x: Double) -> Double {
        if x < 20 { return log(erfc(x)) }
        // erfc(x) = e^{−x²} / (x√π) · Σ_k (−1)^k (2k−1)!! / (2x²)^k; at x ≥ 20 each term is
        // at most 1/80 of the previous one, so eight terms are exact to double precision.
        let r = 1 / (2 * x * x)
        var term = 1.0, series = 1.0
        for k in 1...8 {
            term *= -Double(2 * k - 1) * r
            series += term
        }
        return -x * x - log(x) - 0.5 * log(Double.pi) + log(series)
    }
}
