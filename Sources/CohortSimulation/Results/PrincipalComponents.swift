import CohortTensor

/// Principal component analysis for the domain-shift view: projects feature vectors onto the
/// directions of largest variance.
///
/// The covariance matrix is formed in `Double`; its leading eigenvectors are found by power
/// iteration, each new vector kept orthogonal to those already found (deflation). Everything is
/// deterministic: the start vector is the covariance column of largest variance, and each axis
/// is signed so that its largest-magnitude loading (the first, on ties) is positive.
///
/// Cost is O(n·d²) for the covariance plus O(d²) per iteration (at most `maxIterations` per
/// component), fine for feature widths up to a few hundred. Inputs should be finite; NaN
/// propagates into the output.
public enum PrincipalComponents {
    /// Iteration limit per component; reached only when two leading eigenvalues nearly tie,
    /// where any vector in their span is an equally good axis for a picture.
    public static let maxIterations = 5_000

    /// Projects `rows` (one feature vector per row, all the same length) onto their first
    /// `components` principal axes.
    ///
    /// - Returns: `points[i][c]`, the centred row `i` projected on axis `c`; and
    ///   `explainedVariance[c]`, the fraction of the total variance axis `c` explains (0 when the
    ///   data has no variance, or when `components` exceeds the feature width).
    public static func project(_ rows: [[Float]], components: Int = 2)
        -> (points: [[Double]], explainedVariance: [Double]) {
        let width = rows.first?.count ?? 0
        precondition(rows.allSatisfy { $0.count == width }, "PCA rows must all have the same length")
        return project(rows.flatMap { $0 }, columns: width, components: components)
    }

    /// Projects a row-major matrix (`values.count / columns` rows of `columns` features) onto
    /// its first `components` principal axes. See `project(_:components:)` for the result.
    public static func project(_ values: [Float], columns: Int, components: Int = 2)
        -> (points: [[Double]], explainedVariance: [Double]) {
        precondition(columns >= 0 && components >= 1, "PCA needs columns >= 0 and components >= 1")
        precondition(columns == 0 ? values.isEmpty : values.count % columns == 0,
                     "PCA values must hold whole rows of \(columns) columns")
        let n = columns == 0 ? 0 : values.count / columns
        let fit = Fit(values, rows: n, columns: columns, components: components)
        var points = [[Double]](repeating: [Double](repeating: 0, count: components), count: n)
        for i in 0..<n {
            for c in 0..<fit.axes.count {
                var dot = 0.0
                for j in 0..<columns { dot += (Double(values[i * columns + j]) - fit.mean[j]) * fit.axes[c][j] }
                points[i][c] = dot
            }
        }
        let explained = (0..<components).map { c in
            c < fit.variances.count && fit.totalVariance > 0 ? fit.variances[c] / fit.totalVariance : 0
        }
        return (points, explained)
    }

    /// Projects the rows of a rank-2 tensor `[samples, features]`.
    public static func project(_ tensor: Tensor, components: Int = 2)
        -> (points: [[Double]], explainedVariance: [Double]) {
        precondition(tensor.shape.count == 2, "PCA needs a [samples, features] tensor, got shape \(tensor.shape)")
        return project(tensor.data, columns: tensor.shape[1], components: components)
    }

    /// The principal axes of a data matrix.
    struct Fit {
        /// Column means.
        var mean: [Double]
        /// Unit axes, one per component found (at most the feature width).
        var axes: [[Double]]
        /// Variance along each axis (sample covariance eigenvalue).
        var variances: [Double]
        /// Trace of the covariance: the total variance.
        var totalVariance: Double

        init(_ values: [Float], rows n: Int, columns d: Int, components: Int) {
            mean = [Double](repeating: 0, count: d)
            for i in 0..<n { for j in 0..<d { mean[j] += Double(values[i * d + j]) } }
            if n > 0 { for j in 0..<d { mean[j] /= Double(n) } }

            // Sample covariance; the upper triangle is accumulated, then mirrored.
            var cov = [Double](repeating: 0, count: d * d)
            var centred = [Double](repeating: 0, count: d)
            for i in 0..<n {
                for j in 0..<d { centred[j] = Double(values[i * d + j]) - mean[j] }
                for a in 0..<d {
                    let ca = centred[a]
                    if ca == 0 { continue }
                    for b in a..<d { cov[a * d + b] += ca * centred[b] }
                }
            }
            let scale = n > 1 ? 1 / Double(n - 1) : 0
            for a in 0..<d {
                for b in a..<d {
                    cov[a * d + b] *= scale
                    cov[b * d + a] = cov[a * d + b]
                }
            }
            totalVariance = (0..<d).reduce(0) { $0 + cov[$1 * d + $1] }

            axes = []
            variances = []
            for _ in 0..<min(components, d) {
                let axis = Fit.leadingAxis(cov, size: d, orthogonalTo: axes, totalVariance: totalVariance)
                axes.append(axis)
                variances.append(max(0, Fit.quadratic(cov, axis, size: d)))
            }
        }

        /// The unit vector maximising vᵀCv among those orthogonal to `previous`, by power iteration.
        static func leadingAxis(_ cov: [Double], size d: Int, orthogonalTo previous: [[Double]],
                                totalVariance: Double) -> [Double] {
            // Start from the covariance column with the largest remaining variance; fall back to
            // basis vectors when the remaining space has no variance.
            var diagonalOrder = Array(0..<d)
            diagonalOrder.sort { cov[$0 * d + $0] > cov[$1 * d + $1] || (cov[$0 * d + $0] == cov[$1 * d + $1] && $0 < $1) }
            var v: [Double] = []
            for j in diagonalOrder {
                var start = Array(cov[(j * d)..<(j * d + d)])
                orthogonalise(&start, against: previous)
                if normalise(&start) { v = start; break }
            }
            if v.isEmpty {
                for j in 0..<d {
                    var basis = [Double](repeating: 0, count: d)
                    basis[j] = 1
                    orthogonalise(&basis, against: previous)
                    if normalise(&basis) { v = basis; break }
                }
            }
            precondition(!v.isEmpty, "PCA asked for more axes than the feature width")

            let negligible = max(totalVariance, .leastNormalMagnitude) * 1e-14
            for _ in 0..<PrincipalComponents.maxIterations {
                var w = multiply(cov, v, size: d)
                orthogonalise(&w, against: previous)
                if norm(w) <= negligible { break }  // no variance left: any orthogonal unit vector will do
                _ = normalise(&w)
                var change = 0.0
                for j in 0..<d { change = max(change, abs(w[j] - v[j])) }
                v = w
                if change < 1e-13 { break }
            }
            orthogonalise(&v, against: previous)
            _ = normalise(&v)

            // Sign convention: the largest-magnitude loading is positive.
            var pivot = 0
            for j in 1..<max(d, 1) where abs(v[j]) > abs(v[pivot]) { pivot = j }
            if d > 0 && v[pivot] < 0 { v = v.map { -$0 } }
            return v
        }

        static func multiply(_ m: [Double], _ v: [Double], size d: Int) -> [Double] {
            var out = [Double](repeating: 0, count: d)
            for a in 0..<d {
                var s = 0.0
                for b in 0..<d { s += m[a * d + b] * v[b] }
                out[a] = s
            }
            return out
        }

        static func quadratic(_ m: [Double], _ v: [Double], size d: Int) -> Double {
            let mv = multiply(m, v, size: d)
            return zip(mv, v).reduce(0) { $0 + $1.0 * $1.1 }
        }

        static func norm(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }

        /// Scales `v` to unit length; false (and `v` unchanged) when it is too short to scale.
        static func normalise(_ v: inout [Double]) -> Bool {
            let length = norm(v)
            guard length > 1e-300, length.isFinite else { return false }
            for j in v.indices { v[j] /= length }
            return true
        }

        /// Removes the components of `v` along each (unit) vector in `basis`; twice, for accuracy.
        static func orthogonalise(_ v: inout [Double], against basis: [[Double]]) {
            for _ in 0..<2 {
                for u in basis {
                    let dot = zip(u, v).reduce(0) { $0 + $1.0 * $1.1 }
                    for j in v.indices { v[j] -= dot * u[j] }
                }
            }
        }
    }
}
