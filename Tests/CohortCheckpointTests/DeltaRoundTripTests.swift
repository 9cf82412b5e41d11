import CohortCheckpoint
import CohortNN
import CohortTensor
import Foundation
import XCTest

final class DeltaRoundTripTests: XCTestCase {
    let shapes: [(String, [Int])] = [("fc1.weight", [64, 50]), ("fc1.bias", [50]), ("fc2.weight", [50, 10]), ("scalar", [])]

    private func roundTrip(_ delta: ModelDelta, _ config: DeltaCodecConfig) throws -> (ModelDelta, Int) {
        let bytes = try DeltaEncoder(config: config).encode(delta)
        let decoded = try DeltaDecoder(expectedShapes: delta.shapes, maxBytes: 1 << 24).decode(bytes)
        XCTAssertEqual(decoded.names, delta.names)
        return (decoded, bytes.count)
    }

    func testFloat32IsLosslessWithAndWithoutZlib() throws {
        let delta = DeltaTestSupport.randomDelta(shapes, seed: 1)
        for level: Int32? in [nil, 1, 9] {
            let (decoded, _) = try roundTrip(delta, DeltaCodecConfig(zlibLevel: level))
            XCTAssertEqual(decoded, delta)
        }
    }

    func testFloat16RelativeErrorIsAtMostHalfAnUlp() throws {
        // Normal float16 range: 2^-14 ... 65504. Spread magnitudes over many binades.
        var rng = SeededRandom(seed: 2)
        let values = (0..<5000).map { _ in (rng.uniform() < 0.5 ? -1 : 1) * Float.pow2(rng.uniform(-13, 15)) }
        let delta = try ModelDelta([("w", Tensor(shape: [5000], data: values))])
        let (decoded, _) = try roundTrip(delta, DeltaCodecConfig(quantization: .float16))
        for (x, y) in zip(values, decoded["w"]!.data) {
            XCTAssertLessThanOrEqual(abs(y - x) / abs(x), 0x1p-11, "\(x) decoded as \(y)")
        }
        // Beyond the float16 range, magnitudes are clamped to 65504 instead of becoming infinite.
        let big = try ModelDelta([("w", Tensor(shape: [2], data: [1e6, -7e4]))])
        XCTAssertEqual(try roundTrip(big, DeltaCodecConfig(quantization: .float16)).0["w"]!.data, [65504, -65504])
    }

    func testInt8ErrorIsAtMostHalfAScalePerElement() throws {
        let delta = DeltaTestSupport.randomDelta(shapes, seed: 3)
        for block in [1, 7, 64, 256] {
            let (decoded, _) = try roundTrip(delta, DeltaCodecConfig(quantization: .int8(blockSize: block)))
            for name in delta.names {
                let x = delta[name]!.data, y = decoded[name]!.data
                for start in stride(from: 0, to: x.count, by: block) {
                    let chunk = start..<min(start + block, x.count)
                    let scale = x[chunk].map(abs).max()! / 127
                    for i in chunk {
                        // scale/2 plus the float rounding of x/scale and q·scale (a few ulps of x).
                        XCTAssertLessThanOrEqual(abs(y[i] - x[i]), scale / 2 + 4 * x[i].ulp, "\(name)[\(i)] block \(block)")
                    }
                }
            }
        }
        // An all-zero block has scale 0 and decodes to exact zeros.
        let zeros = try ModelDelta([("z", Tensor(shape: [300], repeating: 0))])
        XCTAssertEqual(try roundTrip(zeros, DeltaCodecConfig(quantization: .int8(blockSize: 256))).0, zeros)
    }

    func testTopKSendsTheLargestEntriesExactlyAndZeroesTheRest() throws {
        let delta = DeltaTestSupport.randomDelta(shapes, seed: 4)
        for percent in [1, 10, 50, 100] {
            let fraction = Double(percent) / 100
            let config = DeltaCodecConfig(topKFraction: fraction)
            let (decoded, _) = try roundTrip(delta, config)
            for name in delta.names {
                let x = delta[name]!.data, y = decoded[name]!.data
                let k = config.sentCount(of: x.count)
                XCTAssertEqual(k, (percent * x.count + 99) / 100)
                let expected = Set(x.indices.sorted { abs(x[$0]) > abs(x[$1]) || (abs(x[$0]) == abs(x[$1]) && $0 < $1) }.prefix(k))
                for i in x.indices {
                    XCTAssertEqual(y[i], expected.contains(i) ? x[i] : 0, "\(name)[\(i)] fraction \(fraction)")
                }
            }
        }
    }

    func testTopKSelectionIsExactOnLargeInputsAndTies() {
        var rng = SeededRandom(seed: 5)
        // Over 65536 elements the sampled-threshold path runs.
        let n = 300_000
        var values = (0..<n).map { _ in rng.normal() }
        for k in [1, 17, 3000, 30_000, n - 1] {
            let got = TopKSelection.indices(of: values, k: k)
            let want = Array(values.indices.sorted { abs(values[$0]) > abs(values[$1]) || (abs(values[$0]) == abs(values[$1]) && $0 < $1) }.prefix(k)).sorted()
            XCTAssertEqual(got, want, "k = \(k)")
        }
        // Heavy ties and mostly zeros: ties go to the lowest indices, exactly k are chosen.
        values = (0..<n).map { i in i % 1000 == 0 ? 2 : (i % 7 == 0 ? -1 : 0) }
        for k in [100, 301, 50_000, 60_000] {
            let got = TopKSelection.indices(of: values, k: k)
            XCTAssertEqual(got.count, k)
            let want = Array(values.indices.sorted { abs(values[$0]) > abs(values[$1]) || (abs(values[$0]) == abs(values[$1]) && $0 < $1) }.prefix(k)).sorted()
            XCTAssertEqual(got, want, "tied k = \(k)")
        }
        XCTAssertEqual(TopKSelection.indices(of: [], k: 3), [])
        XCTAssertEqual(TopKSelection.indices(of: [1, -3, 2], k: 0), [])
        XCTAssertEqual(TopKSelection.indices(of: [1, -3, 2], k: 5), [0, 1, 2])
    }

    func testTopKWithQuantisationAndZlib() throws {
        let delta = DeltaTestSupport.randomDelta([("big", [200_000]), ("small", [10])], seed: 6)
        let raw = try DeltaEncoder(config: DeltaCodecConfig()).encode(delta).count
        let config = DeltaCodecConfig(topKFraction: 0.01, quantization: .int8(blockSize: 256), zlibLevel: 1)
        let (decoded, bytes) = try roundTrip(delta, config)
        let x = delta["big"]!.data, y = decoded["big"]!.data
        let sent = Set(TopKSelection.indices(of: x, k: 2000))
        let halfScaleBound = x.map(abs).max()! / 254 + 1e-7
        for i in x.indices {
            if sent.contains(i) {
                XCTAssertEqual(y[i], x[i], accuracy: halfScaleBound)
            } else {
                XCTAssertEqual(y[i], 0)
            }
        }
        XCTAssertGreaterThan(Double(raw) / Double(bytes), 100, "top-k 1% + int8 + zlib should be over 100x smaller than float32")
        let f16 = try roundTrip(delta, DeltaCodecConfig(topKFraction: 0.01, quantization: .float16, zlibLevel: 6)).0
        for i in sent { XCTAssertEqual(f16["big"]!.data[i], x[i], accuracy: abs(x[i]) * 0x1p-11) }
    }

    func testEncoderOutputMatchesTheSpecByteForByte() throws {
        let delta = try ModelDelta([("w", Tensor(shape: [2, 2], data: [0, 1.5, 0, -4]))])
        let S = DeltaTestSupport.self
        let dense = try DeltaEncoder(config: DeltaCodecConfig()).encode(delta)
        XCTAssertEqual(dense, S.message([S.record(name: "w", shape: [2, 2], count: 4, payload: [0, 1.5, 0, -4].flatMap(S.f32))]))
        let sparse = try DeltaEncoder(config: DeltaCodecConfig(topKFraction: 0.5, quantization: .int8(blockSize: 256))).encode(delta)
        // Indices 1 and 3: gaps 2 and 2 from a virtual previous index of -1. Scale 4/127.
        XCTAssertEqual(sparse, S.message([S.record(name: "w", shape: [2, 2], encoding: 2, layout: 1, blockSize: 256, count: 2,
                                                   index: [2, 2], payload: S.f32(4 / 127) + [48, UInt8(bitPattern: -127)])]))
        let half = try DeltaEncoder(config: DeltaCodecConfig(quantization: .float16)).encode(delta)
        XCTAssertEqual(half, S.message([S.record(name: "w", shape: [2, 2], encoding: 1, count: 4,
                                                 payload: [Float16(0), 1.5, 0, -4].flatMap { S.le16($0.bitPattern) })]))
        let zipped = try DeltaEncoder(config: DeltaCodecConfig(zlibLevel: 1)).encode(delta)
        let body = Array(dense.dropFirst(28))
        XCTAssertEqual(Array(zipped.prefix(28)), S.header(flags: 1, tensors: 1, bodySize: UInt64(body.count), storedSize: UInt64(zipped.count - 28)))
        XCTAssertEqual(try Zlib.decompress(Array(zipped.dropFirst(28)), expectedCount: body.count), body)
    }

    func testLargeGapsUseMultiByteVarints() throws {
        var data = [Float](repeating: 0, count: 3_000_000)
        data[5] = 1; data[200] = 2; data[20_000] = 3; data[2_999_999] = -4
        let delta = try ModelDelta([("w", Tensor(shape: [3_000_000], data: data))])
        let (decoded, bytes) = try roundTrip(delta, DeltaCodecConfig(topKFraction: 4.0 / 3_000_000))
        XCTAssertEqual(decoded, delta)
        // 28 header + 2+1+1+4+1+1+4+4 record fields + 4 index length + varints (gaps 6, 195, 19800, 2979999: 1+2+3+4) + 16 values.
        XCTAssertEqual(bytes, 28 + 18 + 4 + 10 + 16)
    }

    func testEmptyDeltaAndEmptyTensors() throws {
        let empty = try ModelDelta([])
        for config in [DeltaCodecConfig(), DeltaCodecConfig(topKFraction: 0.1, quantization: .int8(blockSize: 4), zlibLevel: 1)] {
            XCTAssertEqual(try DeltaDecoder(expectedShapes: [:], maxBytes: 100).decode(try DeltaEncoder(config: config).encode(empty)), empty)
            let zero = try ModelDelta([("e", Tensor(shape: [0, 3]))])
            XCTAssertEqual(try roundTrip(zero, config).0, zero)
        }
    }

    func testModelDeltaIsRestrictedToTrainableTensorsAndAppliesBack() throws {
        let spec = ModelSpec(inputShape: [6], layers: [
            LayerSpec(.dense, name: "backbone", units: 8), LayerSpec(.relu, name: "relu"), LayerSpec(.dense, name: "head", units: 3),
        ])
        let model = try Sequential(spec: spec, seed: 7)
        _ = model.setTrainable(false, prefix: "backbone")
        let global = model.stateDict()
        var rng = SeededRandom(seed: 8)
        let data = LabelledData(inputs: Tensor(shape: [32, 6], data: (0..<192).map { _ in rng.normal() }),
                                labels: (0..<32).map { _ in rng.int(below: 3) })
        let optimizer = SGD(groups: [ParameterGroup(parameters: model.parameters, learningRate: 0.1)])
        _ = try Trainer(model: model, optimizer: optimizer, config: TrainingConfig(epochs: 2, batchSize: 8)).fit(data)
        let local = model.stateDict()

        let trainable = ModelDelta.trainableNames(of: model)
        XCTAssertEqual(trainable, ["head.weight", "head.bias"])
        let delta = try ModelDelta(local: local, global: global, trainable: trainable)
        XCTAssertEqual(delta.names, ["head.weight", "head.bias"])   // local's order, backbone absent
        XCTAssertGreaterThan(delta.l2Norm, 0)
        let globalDict = Dictionary(uniqueKeysWithValues: global.map { ($0.name, $0.value) })
        let localDict = Dictionary(uniqueKeysWithValues: local.map { ($0.name, $0.value) })
        XCTAssertEqual(try ModelDelta(local: localDict, global: globalDict, trainable: trainable).names, ["head.bias", "head.weight"])
        // Applying gives local back (to float rounding of (l − g) + g), and leaves frozen tensors alone.
        let restored = try delta.applied(to: global)
        XCTAssertEqual(restored.map(\.name), global.map(\.name))
        for ((name, got), (_, want)) in zip(restored, local) {
            for (a, b) in zip(got.data, want.data) { XCTAssertEqual(a, b, accuracy: 1e-6, name) }
        }
        XCTAssertEqual(try delta.applied(to: globalDict)["backbone.weight"], globalDict["backbone.weight"])
        // The encoded delta carries only the head, and decodes against the head's shapes.
        let bytes = try DeltaEncoder(config: DeltaCodecConfig(quantization: .float16)).encode(delta)
        XCTAssertEqual(try DeltaDecoder(expectedShapes: delta.shapes, maxBytes: 4096).decode(bytes).names, delta.names)

        XCTAssertThrowsError(try ModelDelta(local: localDict, global: [:], trainable: trainable)) {
            XCTAssertEqual("\($0)", "trainable tensor 'head.bias' is in the local state but not in the global state")
        }
        XCTAssertThrowsError(try ModelDelta(local: local, global: global, trainable: ["nope"])) {
            XCTAssertEqual("\($0)", "trainable tensor 'nope' is not in the local state")
        }
        var reshaped = globalDict
        reshaped["head.bias"] = Tensor(shape: [1, 3])
        XCTAssertThrowsError(try ModelDelta(local: localDict, global: reshaped, trainable: trainable)) {
            XCTAssertEqual("\($0)", "tensor 'head.bias': local shape [3] differs from global shape [1, 3]")
        }
        XCTAssertThrowsError(try delta.applied(to: ["head.weight": globalDict["head.weight"]!])) {
            XCTAssertEqual("\($0)", "delta tensor 'head.bias' is not in the state it is applied to")
        }
    }

    func testEncoderRejectsBadInputAndConfig() {
        let nan = try! ModelDelta([("w", Tensor(shape: [3], data: [1, .nan, 2]))])
        XCTAssertThrowsError(try DeltaEncoder(config: DeltaCodecConfig()).encode(nan)) {
            XCTAssertEqual("\($0)", "tensor 'w': delta is nan at element 1 (values must be finite)")
        }
        XCTAssertThrowsError(try DeltaEncoder(config: DeltaCodecConfig(topKFraction: 0))) {
            XCTAssertEqual("\($0)", "codec config: topKFraction must be in (0, 1], got 0.0")
        }
        XCTAssertThrowsError(try DeltaEncoder(config: DeltaCodecConfig(quantization: .int8(blockSize: 0)))) {
            XCTAssertEqual("\($0)", "codec config: int8 block size must be in 1...65536, got 0")
        }
        XCTAssertThrowsError(try DeltaEncoder(config: DeltaCodecConfig(zlibLevel: 10))) {
            XCTAssertEqual("\($0)", "codec config: zlibLevel must be in 1...9, got 10")
        }
        XCTAssertThrowsError(try ModelDelta([("a", Tensor(shape: [1])), ("a", Tensor(shape: [1]))])) {
            XCTAssertEqual("\($0)", "tensor 'a' appears twice in the delta")
        }
    }

    func testConfigIsCodableAndLabelled() throws {
        let config = DeltaCodecConfig(topKFraction: 0.01, quantization: .int8(blockSize: 256), zlibLevel: 1)
        let json = try JSONEncoder().encode(config)
        XCTAssertEqual(try JSONDecoder().decode(DeltaCodecConfig.self, from: json), config)
        XCTAssertEqual(config.label, "topk1%+int8+zlib")
        XCTAssertEqual(DeltaCodecConfig().label, "float32")
        XCTAssertEqual(DeltaCodecConfig(topKFraction: 0.1, quantization: .float16, zlibLevel: 6).label, "topk10%+float16+zlib")
    }
}

extension Float {
    /// 2^e for a real exponent.
    static func pow2(_ e: Float) -> Float { Float(Foundation.pow(2.0, Double(e))) }
}
