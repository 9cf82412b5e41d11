import XCTest
import CohortCheckpoint

final class ZlibTests: XCTestCase {
    func testRoundTripAndBoundedInflation() throws {
        let data = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 / 7) }
        let packed = Zlib.compress(data)
        XCTAssertLessThan(packed.count, data.count / 5)
        XCTAssertEqual(try Zlib.decompress(packed, expectedCount: data.count), data)
        XCTAssertEqual(try Zlib.decompress(Zlib.compress([]), expectedCount: 0), [])
        // A stream that inflates to more than declared is refused, not allocated.
        XCTAssertThrowsError(try Zlib.decompress(packed, expectedCount: 100))
        XCTAssertThrowsError(try Zlib.decompress(packed, expectedCount: data.count + 1))
        var corrupt = packed
        corrupt[corrupt.count / 2] ^= 0xFF
        XCTAssertThrowsError(try Zlib.decompress(corrupt, expectedCount: data.count))
        XCTAssertThrowsError(try Zlib.decompress(Array(packed.prefix(10)), expectedCount: data.count))
    }
}
