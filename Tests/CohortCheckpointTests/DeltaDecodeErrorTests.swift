import CohortCheckpoint
import CohortTensor
import XCTest

/// Each way a delta message can be wrong, with the exact error it gets. Messages are built by
/// hand (see `DeltaTestSupport`): a dense float32 record "w" of shape [4] starts at byte 28 —
/// name length @28, name @30, rank @31, dims @32, encoding @36, layout @37, block size @38,
/// value count @42, values @46 — and a sparse int8 record "s" of shape [10] has its index
/// stream length @46, index stream @50, scale @53 and values @57.
final class DeltaDecodeErrorTests: XCTestCase {
    typealias S = DeltaTestSupport
    let decoder = DeltaDecoder(expectedShapes: ["w": [4], "s": [10]], maxBytes: 4096, requireAllTensors: false)

    func dense(name: String = "w", shape: [UInt32] = [4], encoding: UInt8 = 0, layout: UInt8 = 0, blockSize: UInt32 = 0,
               count: UInt32 = 4, values: [Float] = [1, -2, 3, 0.5]) -> [UInt8] {
        S.record(name: name, shape: shape, encoding: encoding, layout: layout, blockSize: blockSize, count: count, payload: values.flatMap(S.f32))
    }

    func sparse(count: UInt32 = 3, blockSize: UInt32 = 4, index: [UInt8] = [2, 3, 5], scale: Float = 0.5,
                values: [Int8] = [10, -20, 127]) -> [UInt8] {
        S.record(name: "s", shape: [10], encoding: 2, layout: 1, blockSize: blockSize, count: count, index: index,
                 payload: S.f32(scale) + values.map { UInt8(bitPattern: $0) })
    }

    func expect(_ bytes: [UInt8], _ message: String, decoder: DeltaDecoder? = nil, line: UInt = #line) {
        do {
            let d = try (decoder ?? self.decoder).decode(bytes)
            XCTFail("decoded \(d.names) instead of failing with: \(message)", line: line)
        } catch {
            XCTAssertEqual(error.description, message, line: line)
        }
    }

    func testTheHandBuiltMessagesAreValid() throws {
        let d = try decoder.decode(S.message([dense(), sparse()]))
        XCTAssertEqual(d["w"]?.data, [1, -2, 3, 0.5])
        XCTAssertEqual(d["s"]?.data, [0, 5, 0, 0, -10, 0, 0, 0, 0, 63.5])
    }

    func testHeaderErrors() {
        let good = S.message([dense()])
        XCTAssertEqual(good.count, 62)
        expect(good, "delta rejected: message is 62 bytes, over the budget of 50",
               decoder: DeltaDecoder(expectedShapes: ["w": [4]], maxBytes: 50))
        var m = good; m[0] = 0x58
        expect(m, "delta rejected: message byte 0: wrong magic 58 44 4C 54, expected 43 44 4C 54 ('CDLT')")
        m = good; m[4] = 2
        expect(m, "delta rejected: message byte 4: unsupported format version 2 (this decoder reads version 1)")
        m = good; m[6] = 6
        expect(m, "delta rejected: message byte 6: unknown flag bits 0x6 (known: 0x1 zlib)")
        m = good; m[8] = 3
        expect(m, "delta rejected: message byte 8: declares 3 tensors, the model expects at most 2")
        m = good; m.replaceSubrange(12..<20, with: S.le64(1 << 40))
        expect(m, "delta rejected: message byte 12: declared body size 1099511627776 is over the budget of 4096 bytes")
        expect([], "delta rejected: message byte 0: truncated: magic needs 4 bytes, only 0 left")
        expect(Array(good.prefix(10)), "delta rejected: message byte 8: truncated: tensor count needs 4 bytes, only 2 left")
        expect(Array(good.prefix(50)), "delta rejected: message byte 28: truncated: stored body needs 34 bytes, only 22 left")
        expect(good + [0], "delta rejected: message byte 62: trailing garbage: 1 bytes after the body")
        m = good; m.replaceSubrange(12..<20, with: S.le64(33)); m.replaceSubrange(20..<28, with: S.le64(34))
        expect(m, "delta rejected: message byte 20: uncompressed body: stored size 34 differs from the declared body size 33")
        expect(S.message([dense() + [0, 0]]), "delta rejected: message byte 62: trailing garbage: 2 bytes after the last of 1 tensors")
    }

    func testTensorErrors() {
        expect(S.message([dense(name: "x")]), "delta rejected: tensor 'x', message byte 30: unknown tensor name (not one of the 2 expected tensors)")
        expect(S.message([dense(), dense()]), "delta rejected: tensor 'w', message byte 62: duplicate tensor (it was already sent in this message)")
        expect(S.message([dense(shape: [2, 2])]), "delta rejected: tensor 'w', message byte 31: shape [2, 2] differs from the expected [4]")
        expect(S.message([dense(shape: [1, 1, 1, 1, 1, 1, 1, 1, 4])]), "delta rejected: tensor 'w', message byte 31: rank 9 exceeds the limit of 8")
        var m = S.message([dense()]); m[28] = 0
        expect(m, "delta rejected: message byte 28: tensor name length 0 is outside 1...256")
        m = S.message([dense()]); m[30] = 0xFF
        expect(m, "delta rejected: message byte 30: tensor name is not valid UTF-8")
        expect(S.message([dense(encoding: 3)]), "delta rejected: tensor 'w', message byte 36: unknown value encoding 3 (known: 0 float32, 1 float16, 2 int8)")
        expect(S.message([dense(layout: 2)]), "delta rejected: tensor 'w', message byte 37: unknown layout 2 (known: 0 dense, 1 sparse)")
        expect(S.message([dense(blockSize: 8)]), "delta rejected: tensor 'w', message byte 38: block size 8 given for float32 values (must be 0)")
        expect(S.message([sparse(blockSize: 0)]), "delta rejected: tensor 's', message byte 38: int8 block size 0 is outside 1...65536")
        expect(S.message([dense(count: 3, values: [1, 2, 3])]), "delta rejected: tensor 'w', message byte 42: dense record has 3 values, the shape [4] has 4 elements")
        expect(S.message([sparse(count: 11)]), "delta rejected: tensor 's', message byte 42: sparse record has 11 values, more than the 10 elements of shape [10]")
        expect(S.message([Array(dense().dropLast(4))]), "delta rejected: tensor 'w', message byte 46: truncated: 4 float32 values with their scales needs 16 bytes, only 12 left")
        let missing = DeltaDecoder(expectedShapes: ["w": [4], "s": [10]], maxBytes: 4096)
        expect(S.message([dense()]), "delta rejected: tensor 's': tensor is missing (every expected tensor must be sent)", decoder: missing)
    }

    func testIndexStreamErrors() {
        expect(S.message([sparse(index: [2, 3])]), "delta rejected: tensor 's', message byte 46: index stream of 2 bytes cannot hold 3 varints (needs 3...15 bytes)")
        expect(S.message([sparse(index: [2, 0, 5])]), "delta rejected: tensor 's', message byte 51: index 1 repeats the previous index 1 (indices must be strictly increasing)")
        expect(S.message([sparse(index: [2, 3, 6])]), "delta rejected: tensor 's', message byte 52: index 2 is 10, out of range 0..<10")
        expect(S.message([sparse(index: [0x82, 0x00, 3, 5])]), "delta rejected: tensor 's', message byte 50: varint 0 has a redundant zero byte (not minimal)")
        expect(S.message([sparse(index: [2, 3, 0x85])]), "delta rejected: tensor 's', message byte 52: index stream ends inside varint 2 of 3")
        expect(S.message([sparse(index: [2, 3, 5, 1])]), "delta rejected: tensor 's', message byte 53: index stream has 1 bytes left after its 3 indices")
        expect(S.message([sparse(index: [2, 3, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])]), "delta rejected: tensor 's', message byte 52: varint 2 is longer than 5 bytes")
    }

    func testValueErrors() {
        expect(S.message([dense(values: [1, 2, .nan, 4])]), "delta rejected: tensor 'w', message byte 54: float32 value 2 of 4 is nan (values must be finite)")
        expect(S.message([dense(values: [-.infinity, 2, 3, 4])]), "delta rejected: tensor 'w', message byte 46: float32 value 0 of 4 is -inf (values must be finite)")
        let half = S.record(name: "w", shape: [4], encoding: 1, count: 4, payload: [0x3C00, 0x7C00, 0, 0].flatMap(S.le16))
        expect(S.message([half]), "delta rejected: tensor 'w', message byte 48: float16 value 1 of 4 is inf (values must be finite)")
        expect(S.message([sparse(scale: .nan)]), "delta rejected: tensor 's', message byte 53: int8 scale of block 0 of 1 is nan")
        expect(S.message([sparse(scale: -1)]), "delta rejected: tensor 's', message byte 53: int8 scale of block 0 of 1 is negative (-1.0)")
        expect(S.message([sparse(scale: 1e38)]),
               "delta rejected: tensor 's', message byte 53: int8 scale of block 0 of 1 is 1e+38, over the largest allowed \(Float.greatestFiniteMagnitude / 127)")
        expect(S.message([sparse(values: [1, -128, 3])]), "delta rejected: tensor 's', message byte 58: int8 value 1 of 3 is -128 (allowed -127...127)")
    }

    func testCompressedBodyErrorsCountBodyBytes() {
        let body = dense(name: "x")
        let packed = Zlib.compress(body)
        let m = S.header(flags: 1, tensors: 1, bodySize: UInt64(body.count), storedSize: UInt64(packed.count)) + packed
        expect(m, "delta rejected: tensor 'x', body byte 2: unknown tensor name (not one of the 2 expected tensors)")
        var corrupt = m
        corrupt[28] ^= 0xFF
        expect(corrupt, "delta rejected: message byte 28: zlib body: corrupt zlib stream")
        // Errors come in stream order: a record that does not fit the declared body is found
        // before the zlib stream is seen to run past it.
        let good = dense()
        let packedGood = Zlib.compress(good)
        func zlibMessage(_ stored: [UInt8], bodySize: Int) -> [UInt8] {
            S.header(flags: 1, tensors: 1, bodySize: UInt64(bodySize), storedSize: UInt64(stored.count)) + stored
        }
        expect(zlibMessage(packedGood, bodySize: good.count - 1),
               "delta rejected: tensor 'w', body byte 18: truncated: 4 float32 values with their scales needs 16 bytes, only 15 left")
        let longer = Zlib.compress(good + [0, 0])
        expect(zlibMessage(longer, bodySize: good.count), "delta rejected: message byte 28: zlib body: stream inflates to more than the expected 34 bytes")
        expect(zlibMessage(Array(packedGood.dropLast(3)), bodySize: good.count), "delta rejected: message byte 28: zlib body: stream is truncated")
        expect(zlibMessage(packedGood + [1, 2], bodySize: good.count), "delta rejected: message byte 28: zlib body: 2 bytes after the end of the zlib stream")
        XCTAssertEqual(try decoder.decode(zlibMessage(packedGood, bodySize: good.count))["w"]?.data, [1, -2, 3, 0.5])
    }
}
