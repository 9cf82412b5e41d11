import XCTest
import CohortNN
import CohortTensor
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Exact values of the version 2 layers at known points, and attention against a naive
/// loop implementation.
final class TransformerValueTests: XCTestCase {
    private func make(_ spec: LayerSpec, _ shape: [Int], seed: UInt64 = 1) throws -> Layer {
        var rng = SeededRandom(seed: seed)
        return try LayerFactory.make(spec, inputShape: shape, rng: &rng)
    }

    func testReLU6AndHardSwishAtKnownPoints() throws {
        let x = Tensor(shape: [1, 7], data: [-4, -3, -1, 0, 1.5, 3, 7])
        let relu6 = try make(LayerSpec(.relu6, name: "r6"), [7])
        XCTAssertEqual(relu6.forward(x, mode: .evaluation).data, [0, 0, 0, 0, 1.5, 3, 6])
        let hs = try make(LayerSpec(.hardswish, name: "hs"), [7])
        // x·relu6(x+3)/6: −1 → −1·2/6, 1.5 → 1.5·4.5/6, 3 → 3, 7 → 7.
        let y = hs.forward(x, mode: .evaluation).data
        let expected: [Float] = [0, 0, -1.0 / 3, 0, 1.125, 3, 7]
        for (a, b) in zip(y, expected) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        // PyTorch's hardswish_backward: 0 below −3, x/3 + 1/2 on [−3, 3], 1 above.
        let g = hs.backward(Tensor(shape: [1, 7], repeating: 1), needsInputGradient: true)!.data
        let slopes: [Float] = [0, -0.5, 1.0 / 6, 0.5, 1, 1.5, 1]
        for (a, b) in zip(g, slopes) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        let r6g = relu6.backward(Tensor(shape: [1, 7], repeating: 1), needsInputGradient: true)!.data
        XCTAssertEqual(r6g, [0, 0, 0, 0, 1, 1, 0])
    }

    func testSiLUSigmoidTanhValues() throws {
        let x = Tensor(shape: [1, 3], data: [-2, 0, 1])
        let sig = try make(LayerSpec(.sigmoid, name: "s"), [3]).forward(x, mode: .evaluation).data
        let silu = try make(LayerSpec(.silu, name: "si"), [3]).forward(x, mode: .evaluation).data
        let th = try make(LayerSpec(.tanh, name: "t"), [3]).forward(x, mode: .evaluation).data
        for (i, v) in x.data.enumerated() {
            let s = 1 / (1 + Foundation.exp(-Double(v)))
            XCTAssertEqual(Double(sig[i]), s, accuracy: 1e-6)
            XCTAssertEqual(Double(silu[i]), Double(v) * s, accuracy: 1e-6)
            XCTAssertEqual(Double(th[i]), Foundation.tanh(Double(v)), accuracy: 1e-6)
        }
    }

    /// The vectorised GELU (forward and derivative) against the exact erf form in Double,
    /// over [−10, 10] including a tail that is not a multiple of the vector width.
    func testGELUMatchesTheExactErfForm() throws {
        let count = 20_003
        let xs = (0..<count).map { Float(-10 + 20 * Double($0) / Double(count - 1)) }
        let layer = try make(LayerSpec(.gelu, name: "gelu"), [count])
        let y = layer.forward(Tensor(shape: [1, count], data: xs), mode: .training).data
        let g = layer.backward(Tensor(shape: [1, count], repeating: 1), needsInputGradient: true)!.data
        var worstValue = 0.0, worstSlope = 0.0
        for (i, v) in xs.enumerated() {
            let x = Double(v)
            let cdf = 0.5 * (1 + Foundation.erf(x / 2.0.squareRoot()))
            let pdf = Foundation.exp(-0.5 * x * x) / (2 * Double.pi).squareRoot()
            worstValue = max(worstValue, abs(Double(y[i]) - x * cdf) / max(1, abs(x)))
            worstSlope = max(worstSlope, abs(Double(g[i]) - (cdf + x * pdf)))
        }
        XCTAssertLessThan(worstValue, 1e-6)
        XCTAssertLessThan(worstSlope, 2e-6)
    }

    func testSoftmaxRowsSumToOneAndSurviveLargeValues() throws {
        let layer = try make(LayerSpec(.softmax, name: "sm"), [2, 3])
        let x = Tensor(shape: [1, 2, 3], data: [1, 2, 3, 1000, 1000, 990])
        let y = layer.forward(x, mode: .evaluation).data
        XCTAssertTrue(y.allSatisfy(\.isFinite), "\(y)")
        XCTAssertEqual(y[0] + y[1] + y[2], 1, accuracy: 1e-6)
        XCTAssertEqual(y[3] + y[4] + y[5], 1, accuracy: 1e-6)
        let e = [Foundation.exp(-2.0), Foundation.exp(-1.0), 1]
        XCTAssertEqual(Double(y[0]), e[0] / (e[0] + e[1] + e[2]), accuracy: 1e-6)
        XCTAssertEqual(y[3], y[4])
        // Over axis 0 the columns sum to one instead.
        let cols = try make(LayerSpec(.softmax, name: "sm0", axis: 0), [2, 3]).forward(x, mode: .evaluation).data
        for j in 0..<3 { XCTAssertEqual(cols[j] + cols[3 + j], 1, accuracy: 1e-6) }
        XCTAssertEqual(cols[5], 1, accuracy: 1e-6) // 990 beats 3 in column 2
    }

    func testLayerNormNormalisesEachToken() throws {
        let layer = try make(LayerSpec(.layernorm, name: "ln", epsilon: 1e-6), [2, 4])
        let ln = try XCTUnwrap(layer as? LayerNorm)
        XCTAssertTrue(ln.parameters.allSatisfy(\.isNormalization))
        XCTAssertEqual(ln.parameters.map(\.name), ["ln.weight", "ln.bias"])
        ln.weight.value = Tensor(shape: [4], data: [1, 2, 1, 1])
        ln.bias.value = Tensor(shape: [4], data: [0, 0, 0, 5])
        let y = layer.forward(Tensor(shape: [1, 2, 4], data: [1, 2, 3, 4, 5, 5, 5, 5]), mode: .evaluation).data
        // Row 1: mean 2.5, var 1.25.
        let s = Float(1 / (1.25 + 1e-6).squareRoot())
        let expected: [Float] = [-1.5 * s, -0.5 * s * 2, 0.5 * s, 1.5 * s + 5, 0, 0, 0, 5]
        for (a, b) in zip(y, expected) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    }

    func testGroupNormUsesConsecutiveChannelGroups() throws {
        // One pixel, 4 channels, 2 groups: channels {0,1} and {2,3} normalised separately.
        let layer = try make(LayerSpec(.groupnorm, name: "gn", groups: 2), [1, 1, 4])
        XCTAssertTrue(layer.parameters.allSatisfy(\.isNormalization))
        let y = layer.forward(Tensor(shape: [1, 1, 1, 4], data: [0, 2, 10, 30]), mode: .evaluation).data
        for (a, b) in zip(y, [Float](arrayLiteral: -1, 1, -1, 1)) { XCTAssertEqual(a, b, accuracy: 1e-4) }
    }

    func testLinearActsOnTheLastAxisOnly() throws {
        let layer = try make(LayerSpec(.linear, name: "fc", units: 2), [3, 2])
        let dense = try XCTUnwrap(layer as? Dense)
        dense.weight.value = Tensor(shape: [2, 2], data: [1, 0, 1, 1])
        dense.bias!.value = Tensor(shape: [2], data: [0, 10])
        let y = layer.forward(Tensor(shape: [1, 3, 2], data: [1, 2, 3, 4, 5, 6]), mode: .evaluation)
        XCTAssertEqual(y.shape, [1, 3, 2])
        XCTAssertEqual(y.data, [1, 13, 3, 17, 5, 21])
    }

    func testTokenPiecesNamesAndValues() throws {
        let cls = try make(LayerSpec(.clstoken, name: "cls_token"), [2, 3])
        XCTAssertEqual(cls.parameters.map(\.name), ["cls_token"])
        XCTAssertEqual(cls.parameters[0].value.shape, [1, 1, 3])
        cls.parameters[0].value = Tensor(shape: [1, 1, 3], data: [7, 8, 9])
        let x = Tensor(shape: [1, 2, 3], data: [1, 2, 3, 4, 5, 6])
        let withToken = cls.forward(x, mode: .evaluation)
        XCTAssertEqual(withToken.shape, [1, 3, 3])
        XCTAssertEqual(withToken.data, [7, 8, 9, 1, 2, 3, 4, 5, 6])

        let pos = try make(LayerSpec(.posembed, name: "pos_embed"), [3, 3])
        XCTAssertEqual(pos.parameters.map(\.name), ["pos_embed"])
        XCTAssertEqual(pos.parameters[0].value.shape, [1, 3, 3])
        pos.parameters[0].value = Tensor(shape: [1, 3, 3], data: (0..<9).map { Float($0) * 10 })
        XCTAssertEqual(pos.forward(withToken, mode: .evaluation).data, [7, 18, 29, 31, 42, 53, 64, 75, 86])

        let select = try make(LayerSpec(.selecttoken, name: "sel", index: 1), [3, 3])
        XCTAssertEqual(select.forward(withToken, mode: .evaluation).data, [1, 2, 3])
    }

    func testDropPathDropsWholeSamplesAndIsIdentityInEvaluation() throws {
        let layer = try make(LayerSpec(.droppath, name: "dp", rate: 0.25), [2, 2])
        let x = Tensor(shape: [64, 2, 2], repeating: 1)
        XCTAssertEqual(layer.forward(x, mode: .evaluation), x)
        let y = layer.forward(x, mode: .training).data
        var dropped = 0
        for i in 0..<64 {
            let sample = Array(y[(i * 4)..<(i * 4 + 4)])
            XCTAssertTrue(sample == [0, 0, 0, 0] || sample.allSatisfy { abs($0 - 4.0 / 3) < 1e-6 }, "sample \(i): \(sample)")
            if sample[0] == 0 { dropped += 1 }
        }
        XCTAssertGreaterThan(dropped, 4)
        XCTAssertLessThan(dropped, 32)
        // Backward applies the same per-sample factors.
        let g = layer.backward(x, needsInputGradient: true)!.data
        XCTAssertEqual(g, y)
    }

    /// Attention computed with explicit loops in Double, from the layer's own weights.
    private func naiveAttention(x: [Float], n: Int, t: Int, d: Int, heads: Int,
                                win: [Float], bin: [Float], wout: [Float], bout: [Float]) -> [Double] {
        let hd = d / heads
        var out = [Double](repeating: 0, count: n * t * d)
        for b in 0..<n {
            // qkv[t][3d]
            var qkv = [[Double]](repeating: [Double](repeating: 0, count: 3 * d), count: t)
            for i in 0..<t { for r in 0..<(3 * d) {
                var s = Double(bin[r])
                for c in 0..<d { s += Double(win[r * d + c]) * Double(x[(b * t + i) * d + c]) }
                qkv[i][r] = s
            } }
            var ctx = [[Double]](repeating: [Double](repeating: 0, count: d), count: t)
            for h in 0..<heads {
                for i in 0..<t {
                    var scores = [Double](repeating: 0, count: t)
                    for j in 0..<t {
                        var s = 0.0
                        for e in 0..<hd { s += qkv[i][h * hd + e] * qkv[j][d + h * hd + e] }
                        scores[j] = s / Double(hd).squareRoot()
                    }
                    let m = scores.max()!
                    let ex = scores.map { Foundation.exp($0 - m) }
                    let z = ex.reduce(0, +)
                    for e in 0..<hd {
                        var s = 0.0
                        for j in 0..<t { s += ex[j] / z * qkv[j][2 * d + h * hd + e] }
                        ctx[i][h * hd + e] = s
                    }
                }
            }
            for i in 0..<t { for r in 0..<d {
                var s = Double(bout[r])
                for c in 0..<d { s += Double(wout[r * d + c]) * ctx[i][c] }
                out[(b * t + i) * d + r] = s
            } }
        }
        return out
    }

    private func randomize(_ layer: Layer, seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        for p in layer.parameters { p.value = Tensor(shape: p.value.shape, data: (0..<p.value.count).map { _ in rng.normal() * 0.5 }) }
    }

    func testAttentionMatchesNaiveLoops() throws {
        let (n, t, d, heads) = (2, 3, 4, 2)
        let layer = try make(LayerSpec(.attention, name: "attn", heads: heads), [t, d])
        randomize(layer, seed: 8)
        var rng = SeededRandom(seed: 9)
        let x = (0..<(n * t * d)).map { _ in rng.normal() }
        let p = layer.parameters.map(\.value.data)
        let expected = naiveAttention(x: x, n: n, t: t, d: d, heads: heads, win: p[0], bin: p[1], wout: p[2], bout: p[3])
        let y = layer.forward(Tensor(shape: [n, t, d], data: x), mode: .evaluation)
        XCTAssertEqual(y.shape, [n, t, d])
        for i in 0..<expected.count { XCTAssertEqual(Double(y.data[i]), expected[i], accuracy: 1e-5, "element \(i)") }
    }

    func testAttentionLayoutsNameParametersAndAgree() throws {
        let timm = try make(LayerSpec(.attention, name: "blocks.0.attn", heads: 2, layout: "timm"), [5, 6])
        let torch = try make(LayerSpec(.attention, name: "blocks.0.attn", heads: 2, layout: "torch"), [5, 6], seed: 77)
        XCTAssertEqual(timm.parameters.map(\.name), ["blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias",
                                                     "blocks.0.attn.proj.weight", "blocks.0.attn.proj.bias"])
        XCTAssertEqual(torch.parameters.map(\.name), ["blocks.0.attn.in_proj_weight", "blocks.0.attn.in_proj_bias",
                                                      "blocks.0.attn.out_proj.weight", "blocks.0.attn.out_proj.bias"])
        XCTAssertEqual(timm.parameters.map(\.value.shape), [[18, 6], [18], [6, 6], [6]])
        XCTAssertEqual(torch.parameters.map(\.value.shape), [[18, 6], [18], [6, 6], [6]])
        randomize(timm, seed: 3)
        // Same numbers, loaded under the torch layer's own names.
        let rename = ["qkv.weight": "in_proj_weight", "qkv.bias": "in_proj_bias", "proj.weight": "out_proj.weight", "proj.bias": "out_proj.bias"]
        var state: [String: Tensor] = [:]
        for p in timm.parameters {
            let suffix = String(p.name.dropFirst("blocks.0.attn.".count))
            state["blocks.0.attn." + rename[suffix]!] = p.value
        }
        let model = Sequential(inputShape: [5, 6], layers: [torch])
        try model.load(state)
        var rng = SeededRandom(seed: 4)
        let x = Tensor(shape: [3, 5, 6], data: (0..<90).map { _ in rng.normal() })
        let a = timm.forward(x, mode: .evaluation), b = torch.forward(x, mode: .evaluation)
        XCTAssertEqual(a, b)
        XCTAssertGreaterThan(a.squaredNorm(), 0)
    }

    func testAttentionWithoutBiasHasOnlyWeights() throws {
        let layer = try make(LayerSpec(.attention, name: "a", bias: false, heads: 3, layout: "torch"), [2, 6])
        XCTAssertEqual(layer.parameters.map(\.name), ["a.in_proj_weight", "a.out_proj.weight"])
        XCTAssertEqual(layer.parameters.reduce(0) { $0 + $1.value.count },
                       try LayerCheck.check(layer.spec, inputShapes: [[2, 6]]).parameterCount)
    }

    /// Every new kind allocates exactly what `LayerCheck` budgeted and produces its shape.
    func testLayersMatchLayerCheckShapesAndCounts() throws {
        let cases: [(LayerSpec, [Int])] = [
            (LayerSpec(.layernorm, name: "ln"), [4, 6]), (LayerSpec(.layernorm, name: "ln1"), [6]),
            (LayerSpec(.groupnorm, name: "gn", groups: 3), [2, 2, 6]),
            (LayerSpec(.linear, name: "fc", units: 5), [4, 6]), (LayerSpec(.linear, name: "fcnb", units: 5, bias: false), [4, 6]),
            (LayerSpec(.attention, name: "at", heads: 2), [4, 6]), (LayerSpec(.attention, name: "atnb", bias: false, heads: 3), [4, 6]),
            (LayerSpec(.clstoken, name: "c"), [4, 6]), (LayerSpec(.posembed, name: "p"), [4, 6]),
            (LayerSpec(.selecttoken, name: "s", index: 3), [4, 6]), (LayerSpec(.droppath, name: "dp", rate: 0.1), [4, 6]),
            (LayerSpec(.softmax, name: "sm", axis: -2), [4, 6]), (LayerSpec(.hardswish, name: "hs"), [2, 2, 3]),
        ]
        for (spec, shape) in cases {
            let checked = try LayerCheck.check(spec, inputShapes: [shape])
            let layer = try make(spec, shape)
            XCTAssertEqual(layer.parameters.reduce(0) { $0 + $1.value.count } + layer.buffers.reduce(0) { $0 + $1.value.count },
                           checked.parameterCount, spec.name)
            XCTAssertEqual(try layer.outputShape(for: shape), checked.outputShape, spec.name)
            let x = Tensor(shape: [2] + shape, repeating: 0.5)
            XCTAssertEqual(Array(layer.forward(x, mode: .training).shape.dropFirst()), checked.outputShape, spec.name)
        }
    }
}
