import XCTest
import CohortNN
import CohortTensor

/// Inference mode (conv + BatchNorm + ReLU fused, scratch im2col, nothing kept for backward),
/// the parameter version counter behind the conv weight cache, and the two-thread SIMD
/// BatchNorm and ReLU kernels at sizes large enough to take the threaded path, each against a
/// plain reference written here.
final class InferenceModeTests: XCTestCase {
    private func random(_ shape: [Int], seed: UInt64, scale: Float = 1, offset: Float = 0) -> Tensor {
        var rng = SeededRandom(seed: seed)
        return Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in rng.normal() * scale + offset })
    }

    private func assertClose(_ a: [Float], _ b: [Float], tolerance: Float, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        var worst: Float = 0
        for i in 0..<min(a.count, b.count) {
            let d = abs(a[i] - b[i]) / max(1, abs(b[i]))
            if !(d <= worst) { worst = d.isNaN ? .infinity : d }
        }
        XCTAssertLessThan(worst, tolerance, "\(what): largest relative difference \(worst)", file: file, line: line)
    }

    func testParameterVersionChangesOnEveryMutation() {
        let p = Parameter(name: "w", value: Tensor(shape: [3], data: [1, 2, 3]))
        let b = Buffer(name: "b", value: Tensor(shape: [2]))
        let v0 = p.version, b0 = b.version
        p.value.data[1] += 1
        XCTAssertNotEqual(p.version, v0, "in-place element change")
        let v1 = p.version
        p.value.data.withUnsafeMutableBufferPointer { $0[0] = 5 }
        XCTAssertNotEqual(p.version, v1, "change through a buffer pointer")
        let v2 = p.version
        p.value = Tensor(shape: [3], data: [0, 0, 0])
        XCTAssertNotEqual(p.version, v2, "assignment")
        let v3 = p.version
        p.grad.data[0] = 7
        XCTAssertEqual(p.version, v3, "a gradient change is not a value change")
        b.value.data[0] = 1
        XCTAssertNotEqual(b.version, b0, "buffer change")
    }

    /// The conv caches its permuted weight; every way of changing the weight must reach the
    /// output of the next forward pass.
    func testConvWeightCacheFollowsWeightChanges() throws {
        let spec = LayerSpec(.conv2d, name: "c", units: 5, kernel: 3, padding: 1)
        var rng = SeededRandom(seed: 1)
        let conv = try LayerFactory.make(spec, inputShape: [6, 6, 4], rng: &rng) as! Conv2D
        let x = random([2, 6, 6, 4], seed: 2)
        for mode in [ForwardMode.evaluation, .inference, .training] {
            let before = conv.forward(x, mode: mode)
            conv.weight.value.data[7] += 0.5
            let after = conv.forward(x, mode: mode)
            var fresh = SeededRandom(seed: 1)
            let reference = try LayerFactory.make(spec, inputShape: [6, 6, 4], rng: &fresh) as! Conv2D
            reference.weight.value = conv.weight.value
            reference.bias!.value = conv.bias!.value
            XCTAssertNotEqual(before.data, after.data, "\(mode): the weight change shows")
            XCTAssertEqual(after.data, reference.forward(x, mode: mode).data, "\(mode): same as a conv built with the new weight")
            conv.weight.value = Tensor(shape: conv.weight.value.shape, repeating: 0.01)
            reference.weight.value = conv.weight.value
            XCTAssertEqual(conv.forward(x, mode: mode).data, reference.forward(x, mode: mode).data, "\(mode): after assignment")
        }
    }

    /// A ResNet-style graph (stem conv-BN-ReLU, a basic block with a downsampling shortcut,
    /// a bias conv-BN pair, pooling and a head) with random BatchNorm statistics: inference
    /// (fused and scratch-backed) gives the evaluation-mode values.
    func testInferenceEqualsEvaluationOnResNetStyleGraph() throws {
        var spec = ModelSpec(inputShape: [16, 16, 3], layers: [
            LayerSpec(.conv2d, name: "stem", units: 32, kernel: 3, padding: 1, bias: false),
            LayerSpec(.batchnorm2d, name: "stem_bn"),
            LayerSpec(.relu, name: "stem_relu"),
            LayerSpec(.conv2d, name: "conv1", units: 64, kernel: 3, stride: 2, padding: 1, bias: false),
            LayerSpec(.batchnorm2d, name: "bn1"),
            LayerSpec(.relu, name: "relu1"),
            LayerSpec(.conv2d, name: "conv2", units: 64, kernel: 3, padding: 1),
            LayerSpec(.batchnorm2d, name: "bn2"),
            LayerSpec(.conv2d, name: "down", units: 64, kernel: 1, stride: 2, bias: false, sources: ["stem_relu"]),
            LayerSpec(.batchnorm2d, name: "down_bn"),
            LayerSpec(.add, name: "add", sources: ["bn2", "down_bn"]),
            LayerSpec(.relu, name: "relu2"),
            // A BN whose conv output is also read elsewhere: must not be fused.
            LayerSpec(.conv2d, name: "conv3", units: 64, kernel: 3, padding: 1),
            LayerSpec(.batchnorm2d, name: "bn3"),
            LayerSpec(.add, name: "add3", sources: ["bn3", "conv3"]),
            LayerSpec(.flatten, name: "flat"),
            LayerSpec(.dense, name: "fc", units: 10),
        ])
        spec.version = 2
        let model = try Sequential(spec: spec, seed: 3)
        var rng = SeededRandom(seed: 4)
        for p in model.parameters where p.isNormalization {
            p.value = Tensor(shape: p.value.shape, data: (0..<p.value.count).map { _ in rng.normal() * 0.5 + (p.name.hasSuffix("weight") ? 1 : 0) })
        }
        for b in model.buffers {
            let variance = b.name.hasSuffix("running_var")
            b.value = Tensor(shape: b.value.shape, data: (0..<b.value.count).map { _ in variance ? 0.5 + abs(rng.normal()) : rng.normal() })
        }
        // batch 8 × 16 × 16 × 32 channels: large enough for the two-thread kernels.
        let x = random([8, 16, 16, 3], seed: 5)
        let evaluation = model.forward(x, mode: .evaluation)
        let inference = model.forward(x, mode: .inference)
        assertClose(inference.data, evaluation.data, tolerance: 1e-4, "inference vs evaluation")
        XCTAssertEqual(model.forward(x, mode: .inference).data, inference.data, "inference is repeatable")
        // Training still works after an inference pass (caches rebuilt by the training forward),
        // and the two modes still agree on the running statistics it moved.
        let again = model.forward(x, mode: .training)
        XCTAssertNotNil(model.backward(Tensor(shape: again.shape, repeating: 1), needsInputGradient: true))
        assertClose(model.forward(x, mode: .inference).data, model.forward(x, mode: .evaluation).data,
                    tolerance: 1e-4, "inference vs evaluation after training")
    }

    /// Training-mode BatchNorm at a size that splits rows across threads, against a direct
    /// Double computation of the forward values, input gradient and γ/β gradients.
    func testLargeBatchNormMatchesReference() throws {
        let c = 32, rows = 8 * 12 * 12
        var rng = SeededRandom(seed: 9)
        let bn = try LayerFactory.make(LayerSpec(.batchnorm2d, name: "bn"), inputShape: [12, 12, c], rng: &rng) as! BatchNorm
        bn.weight.value = random([c], seed: 10, scale: 0.3, offset: 1)
        bn.bias.value = random([c], seed: 11)
        let x = random([8, 12, 12, c], seed: 12, scale: 2, offset: 3)
        let dy = random([8, 12, 12, c], seed: 13)
        let y = bn.forward(x, mode: .training)
        bn.weight.zeroGrad(); bn.bias.zeroGrad()
        let dx = bn.backward(dy, needsInputGradient: true)!
        var refY = [Float](repeating: 0, count: x.count), refDx = refY
        var refDg = [Float](repeating: 0, count: c), refDb = refDg
        for j in 0..<c {
            var mean = 0.0, variance = 0.0
            for r in 0..<rows { mean += Double(x.data[r * c + j]) }
            mean /= Double(rows)
            for r in 0..<rows { let d = Double(x.data[r * c + j]) - mean; variance += d * d }
            variance /= Double(rows)
            let inv = 1 / (variance + Double(bn.epsilon)).squareRoot()
            let g = Double(bn.weight.value.data[j]), b = Double(bn.bias.value.data[j])
            var sumDy = 0.0, sumDyXh = 0.0
            for r in 0..<rows {
                let xh = (Double(x.data[r * c + j]) - mean) * inv
                refY[r * c + j] = Float(g * xh + b)
                sumDy += Double(dy.data[r * c + j]); sumDyXh += Double(dy.data[r * c + j]) * xh
            }
            refDg[j] = Float(sumDyXh); refDb[j] = Float(sumDy)
            for r in 0..<rows {
                let xh = (Double(x.data[r * c + j]) - mean) * inv
                refDx[r * c + j] = Float(g * inv * (Double(dy.data[r * c + j]) - sumDy / Double(rows) - xh * sumDyXh / Double(rows)))
            }
        }
        assertClose(y.data, refY, tolerance: 1e-4, "forward")
        assertClose(dx.data, refDx, tolerance: 1e-3, "input gradient")
        assertClose(bn.weight.grad.data, refDg, tolerance: 1e-3, "γ gradient")
        assertClose(bn.bias.grad.data, refDb, tolerance: 1e-3, "β gradient")
        // Evaluation and inference of the same layer agree (running statistics now set).
        let e = bn.forward(x, mode: .evaluation), i = bn.forward(x, mode: .inference)
        assertClose(i.data, e.data, tolerance: 1e-5, "inference vs evaluation")
    }

    /// ReLU's SIMD two-thread forward and backward against the scalar definition, with a
    /// length that leaves a scalar tail.
    func testLargeReLUMatchesDefinition() throws {
        var rng = SeededRandom(seed: 20)
        let relu = try LayerFactory.make(LayerSpec(.relu, name: "r"), inputShape: [40_003], rng: &rng)
        let x = random([2, 40_003], seed: 21), dy = random([2, 40_003], seed: 22)
        let y = relu.forward(x, mode: .training)
        let dx = relu.backward(dy, needsInputGradient: true)!
        XCTAssertEqual(y.data, x.data.map { max($0, 0) })
        XCTAssertEqual(dx.data, zip(x.data, dy.data).map { $0 > 0 ? $1 : 0 })
        XCTAssertEqual(relu.forward(x, mode: .inference).data, y.data)
    }

    /// LayerNorm at a size that splits rows across threads (with a feature count that leaves a
    /// scalar tail), against a Double reference for the values and the input gradient.
    func testLargeLayerNormMatchesReference() throws {
        let f = 196, rows = 2 * 100
        var rng = SeededRandom(seed: 30)
        let ln = try LayerFactory.make(LayerSpec(.layernorm, name: "ln"), inputShape: [100, f], rng: &rng) as! LayerNorm
        ln.weight.value = random([f], seed: 31, scale: 0.3, offset: 1)
        ln.bias.value = random([f], seed: 32)
        let x = random([2, 100, f], seed: 33, scale: 2, offset: -1), dy = random([2, 100, f], seed: 34)
        let y = ln.forward(x, mode: .training)
        let dx = ln.backward(dy, needsInputGradient: true)!
        var refY = [Float](repeating: 0, count: x.count), refDx = refY
        for r in 0..<rows {
            let row = (0..<f).map { Double(x.data[r * f + $0]) }
            let mean = row.reduce(0, +) / Double(f)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(f)
            let inv = 1 / (variance + Double(ln.epsilon)).squareRoot()
            let xh = row.map { ($0 - mean) * inv }
            let gh = (0..<f).map { Double(dy.data[r * f + $0]) * Double(ln.weight.value.data[$0]) }
            let m1 = gh.reduce(0, +) / Double(f), m2 = zip(gh, xh).map { $0 * $1 }.reduce(0, +) / Double(f)
            for j in 0..<f {
                refY[r * f + j] = Float(xh[j] * Double(ln.weight.value.data[j]) + Double(ln.bias.value.data[j]))
                refDx[r * f + j] = Float(inv * (gh[j] - m1 - xh[j] * m2))
            }
        }
        assertClose(y.data, refY, tolerance: 1e-4, "forward")
        assertClose(dx.data, refDx, tolerance: 1e-3, "input gradient")
        XCTAssertEqual(ln.forward(x, mode: .inference).data, y.data, "inference gives the training values")
    }

    /// GELU split across threads gives every value exactly what a small, single-thread call
    /// gives it.
    func testLargeGELUIndependentOfSplit() throws {
        var rng = SeededRandom(seed: 40)
        let gelu = try LayerFactory.make(LayerSpec(.gelu, name: "g"), inputShape: [35_001], rng: &rng)
        let x = random([2, 35_001], seed: 41), dy = random([2, 35_001], seed: 42)
        let y = gelu.forward(x, mode: .training)
        let dx = gelu.backward(dy, needsInputGradient: true)!
        for start in [0, 34_996, 69_995] {
            let n = min(7, x.count - start)
            let xs = Tensor(shape: [1, n], data: Array(x.data[start..<start + n]))
            let small = gelu.forward(xs, mode: .training)
            XCTAssertEqual(small.data, Array(y.data[start..<start + n]), "values at \(start)")
            let smallDx = gelu.backward(Tensor(shape: [1, n], data: Array(dy.data[start..<start + n])), needsInputGradient: true)!
            XCTAssertEqual(smallDx.data, Array(dx.data[start..<start + n]), "gradients at \(start)")
        }
    }

    /// A conv whose weight is large enough for the two-thread weight permutation and gradient
    /// un-permutation: output and weight gradient against direct sums.
    func testLargeConvWeightPathsMatchDirectSums() throws {
        let cin = 64, cout = 128, k = 3, h = 4, w = 4, n = 2
        var rng = SeededRandom(seed: 50)
        let conv = try LayerFactory.make(LayerSpec(.conv2d, name: "c", units: cout, kernel: k, padding: 1, bias: false),
                                         inputShape: [h, w, cin], rng: &rng) as! Conv2D
        let x = random([n, h, w, cin], seed: 51), dy = random([n, h, w, cout], seed: 52)
        let y = conv.forward(x, mode: .training)
        conv.weight.zeroGrad()
        _ = conv.backward(dy, needsInputGradient: false)
        let wt = conv.weight.value.data
        var refY = [Float](repeating: 0, count: n * h * w * cout), refDw = [Float](repeating: 0, count: wt.count)
        for b in 0..<n { for i in 0..<h { for j in 0..<w { for o in 0..<cout {
            var acc = 0.0
            let g = Double(dy.data[((b * h + i) * w + j) * cout + o])
            for ci in 0..<cin { for ki in 0..<k { for kj in 0..<k {
                let ih = i + ki - 1, iw = j + kj - 1
                guard ih >= 0, ih < h, iw >= 0, iw < w else { continue }
                let xv = Double(x.data[((b * h + ih) * w + iw) * cin + ci])
                let wi = ((o * cin + ci) * k + ki) * k + kj
                acc += xv * Double(wt[wi])
                refDw[wi] += Float(xv * g)
            } } }
            refY[((b * h + i) * w + j) * cout + o] = Float(acc)
        } } } }
        assertClose(y.data, refY, tolerance: 1e-4, "output")
        assertClose(conv.weight.grad.data, refDw, tolerance: 1e-3, "weight gradient")
    }
}
