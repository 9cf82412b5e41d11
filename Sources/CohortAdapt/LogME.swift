#if canImport(Glibc)
import Glibc
#endif
import CohortTensor

/// LogME (You et al. 2021): the log marginal evidence of a Bayesian linear model on frozen
/// features, averaged over one-vs-rest class targets and divided by the sample count. Higher
/// means the features transfer better to the labels; it ranks candidate checkpoints (or layers
/// to cut at) without fine-tuning any of them.
public enum LogME {
    /// LogME of `features` `[n, d]` for integer `labels` in `0..<classes`.
    public static func score(features: Tensor, labels: [Int], classes: Int) -> Double {
        precondition(features.rank == 2 && features.rows == labels.count, "LogME needs [n, d] features and one label per row")
        let n = features.rows, d = features.shape[1]
        let f = features.data.map(Double.init)
        // FᵀF and its eigen-decomposition.
        var ftf = [Double](repeating: 0, count: d * d)
        for i in 0..<n { for a in 0..<d { let fa = f[i * d + a]; if fa == 0 { continue }; for b in 0..<d { ftf[a * d + b] += fa * f[i * d + b] } } }
        let (s, v) = SymmetricEigen.decompose(ftf, n: d)
        let sigma = s.map { max($0, 0) }
        var total = 0.0
        for k in 0..<classes {
            let y = labels.map { $0 == k ? 1.0 : 0.0 }
            // tmp = Vᵀ (Fᵀ y)
            var fty = [Double](repeating: 0, count: d)
            for i in 0..<n where y[i] != 0 { for a in 0..<d { fty[a] += f[i * d + a] } }
            let tmp = (0..<d).map { j in (0..<d).reduce(0.0) { $0 + v[$1 * d + j] * fty[$1] } }
            var alpha = 1.0, beta = 1.0
            var lambda = alpha / beta
            var alphaDe = 0.0, betaDe = 0.0
            for _ in 0..<11 {
                let gamma = sigma.reduce(0.0) { $0 + $1 / ($1 + lambda) }
                // m = V (tmp · β / (α + β s))
                let scaled = (0..<d).map { tmp[$0] * beta / (alpha + beta * sigma[$0]) }
                let m = (0..<d).map { a in (0..<d).reduce(0.0) { $0 + v[a * d + $1] * scaled[$1] } }
                alphaDe = m.reduce(0.0) { $0 + $1 * $1 }
                alpha = gamma / max(alphaDe, 1e-300)
                betaDe = 0
                for i in 0..<n {
                    var pred = 0.0
                    for a in 0..<d { pred += f[i * d + a] * m[a] }
                    betaDe += (y[i] - pred) * (y[i] - pred)
                }
                beta = (Double(n) - gamma) / max(betaDe, 1e-300)
                let newLambda = alpha / beta
                if abs(newLambda - lambda) / lambda < 0.01 { break }
                lambda = newLambda
            }
            let logDet = sigma.reduce(0.0) { $0 + log(alpha + beta * $1) }
            let evidence = Double(d) / 2 * log(alpha) + Double(n) / 2 * log(beta) - 0.5 * logDet
                - beta / 2 * betaDe - alpha / 2 * alphaDe - Double(n) / 2 * log(2 * Double.pi)
            total += evidence / Double(n)
        }
        return total / Double(classes)
    }
}
