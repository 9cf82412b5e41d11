import XCTest
import CohortNN
import CohortTensor

/// Central finite differences against a layer's or model's analytic gradients.
///
/// The scalar checked is `L = Σ r ⊙ f(x)` for a fixed random `r`, so every output element
/// contributes. The error reported is ‖analytic − numeric‖ / (‖analytic‖ + ‖numeric‖) over
/// all entries of one tensor; float32 central differences with step 1e-2 stay well below
/// the 1e-2 bound the tests use when the gradient is right.
enum GradientCheck {
    static let step: Float = 1e-2
    static let bound: Float = 1e-2

    static func relativeError(_ a: [Float], _ b: [Float]) -> Float {
        var diff = 0.0, na = 0.0, nb = 0.0
        for i in 0..<a.count {
            diff += Double(a[i] - b[i]) * Double(a[i] - b[i])
            na += Double(a[i]) * Double(a[i]); nb += Double(b[i]) * Double(b[i])
        }
        let denom = na.squareRoot() + nb.squareRoot()
        return denom == 0 ? 0 : Float(diff.squareRoot() / denom)
    }

    static func weightedSum(_ y: Tensor, _ r: [Float]) -> Double {
        var s = 0.0
        for i in 0..<y.count { s += Double(y.data[i]) * Double(r[i]) }
        return s
    }

    /// Checks input and parameter gradients of `forward`/`backward` at `x`.
    static func check(name: String, x: Tensor, mode: ForwardMode = .training, parameters: [Parameter],
                      forward: (Tensor) -> Tensor, backward: (Tensor) -> Tensor?,
                      checkInput: Bool = true, file: StaticString = #filePath, line: UInt = #line) {
        var rng = SeededRandom(seed: 99)
        let y = forward(x)
        let r = (0..<y.count).map { _ in rng.normal() }
        for p in parameters { p.zeroGrad() }
        let dx = backward(Tensor(shape: y.shape, data: r))
        if checkInput {
            guard let dx else { XCTFail("\(name): no input gradient", file: file, line: line); return }
            var numeric = [Float](repeating: 0, count: x.count)
            for i in 0..<x.count {
                var xp = x, xm = x
                xp.data[i] += step; xm.data[i] -= step
                numeric[i] = Float((weightedSum(forward(xp), r) - weightedSum(forward(xm), r)) / Double(2 * step))
            }
            let err = relativeError(dx.data, numeric)
            XCTAssertLessThan(err, bound, "\(name): input gradient relative error \(err)", file: file, line: line)
        }
        for p in parameters where p.isTrainable {
            let analytic = p.grad.data
            var numeric = [Float](repeating: 0, count: p.value.count)
            for i in 0..<p.value.count {
                let saved = p.value.data[i]
                p.value.data[i] = saved + step
                let plus = weightedSum(forward(x), r)
                p.value.data[i] = saved - step
                let minus = weightedSum(forward(x), r)
                p.value.data[i] = saved
                numeric[i] = Float((plus - minus) / Double(2 * step))
            }
            let err = relativeError(analytic, numeric)
            XCTAssertLessThan(err, bound, "\(name): gradient of \(p.name) relative error \(err)", file: file, line: line)
        }
    }

    /// Checks one layer built from `spec` for per-sample input shape `shape` and batch `n`.
    static func checkLayer(_ spec: LayerSpec, shape: [Int], batch n: Int = 3, mode: ForwardMode = .training,
                           inputs: ((inout SeededRandom) -> Float)? = nil,
                           file: StaticString = #filePath, line: UInt = #line) throws {
        var rng = SeededRandom(seed: 5)
        let layer = try LayerFactory.make(spec, inputShape: shape, rng: &rng)
        if let d = layer as? Dropout { d.reusesMask = true }
        if let d = layer as? DropPath { d.reusesMask = true }
        let count = n * shape.reduce(1, *)
        let x = Tensor(shape: [n] + shape, data: (0..<count).map { _ in inputs?(&rng) ?? rng.normal() })
        check(name: spec.name, x: x, mode: mode, parameters: layer.parameters,
              forward: { layer.forward($0, mode: mode) },
              backward: { layer.backward($0, needsInputGradient: true) }, file: file, line: line)
    }
}
