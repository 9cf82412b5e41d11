import Foundation

/// The headline regression metrics of one evaluation: mean absolute error and root mean
/// squared error in the targets' original units, and the coefficient of determination R².
public struct RegressionReport: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Evaluated samples.
    public let samples: Int
    /// Targets per sample.
    public let targets: Int
    /// Mean |prediction − target| over every value, in original units.
    public let mae: Double
    /// √(mean (prediction − target)²) over every value, in original units.
    public let rmse: Double
    /// 1 − SS_res / SS_tot per target, averaged over the targets; NaN when a target is constant.
    public let r2: Double

    /// Evaluates row-major `predictions` against `targets` (both `[n * outputs]`, in the
    /// same — possibly standardised — units); `scaling` maps both back to original units.
    /// - Throws: ``MetricsError`` for no samples, a size mismatch or a NaN value.
    public init(predictions: [Float], targets: [Float], outputs: Int, scaling: TargetScaling? = nil) throws(MetricsError) {
        guard outputs >= 1, !targets.isEmpty else { throw .empty(input: "targets") }
        guard targets.count % outputs == 0 else { throw .raggedMatrix(input: "targets", count: targets.count, classes: outputs) }
        guard predictions.count == targets.count else {
            throw .countMismatch(input: "predictions", count: predictions.count, expected: targets.count, reason: "one prediction per target value")
        }
        if let i = predictions.firstIndex(where: \.isNaN) { throw .nanScore(input: "predictions", index: i) }
        if let i = targets.firstIndex(where: \.isNaN) { throw .nanScore(input: "targets", index: i) }
        if let scaling, scaling.center.count != outputs {
            throw .countMismatch(input: "target scaling", count: scaling.center.count, expected: outputs, reason: "one centre per target")
        }
        let n = targets.count / outputs
        var absSum = 0.0, sqSum = 0.0, r2Sum = 0.0
        for k in 0..<outputs {
            var mean = 0.0
            for i in 0..<n { mean += Double(scaling?.original(targets[i * outputs + k], target: k) ?? targets[i * outputs + k]) }
            mean /= Double(n)
            var ssRes = 0.0, ssTot = 0.0
            for i in 0..<n {
                let y = Double(scaling?.original(targets[i * outputs + k], target: k) ?? targets[i * outputs + k])
                let p = Double(scaling?.original(predictions[i * outputs + k], target: k) ?? predictions[i * outputs + k])
                absSum += abs(p - y)
                ssRes += (p - y) * (p - y)
                ssTot += (y - mean) * (y - mean)
            }
            sqSum += ssRes
            r2Sum += ssTot > 0 ? 1 - ssRes / ssTot : .nan
        }
        samples = n
        self.targets = outputs
        mae = absSum / Double(targets.count)
        rmse = (sqSum / Double(targets.count)).squareRoot()
        r2 = r2Sum / Double(outputs)
    }

    /// The metrics on one line each.
    public var description: String {
        func format(_ v: Double) -> String { v.isFinite ? String(format: "%.4f", v) : "undefined" }
        return """
            samples  \(samples)
            MAE      \(format(mae))
            RMSE     \(format(rmse))
            R²       \(format(r2))
            """
    }
}
