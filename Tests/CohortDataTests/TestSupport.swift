import CohortData
import CohortNN
import CohortTensor
import Foundation
import XCTest

/// A fresh empty directory under the system temporary directory, removed by `cleanup`.
func temporaryDirectory(_ name: String = #function) -> String {
    let dir = NSTemporaryDirectory() + "cohort-data-tests-\(getpid())-\(name.filter { $0.isLetter || $0.isNumber })-\(UInt32.random(in: 0...UInt32.max))"
    try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

func removeDirectory(_ dir: String) { try? FileManager.default.removeItem(atPath: dir) }

/// The error message `body` throws, or "ok".
func errorMessage(_ body: () throws -> Void) -> String {
    do { try body(); return "ok" } catch { return "\(error)" }
}

/// CRC-32 (ISO-HDLC), written independently of the library's zlib call.
func referenceCRC32(_ bytes: [UInt8]) -> UInt32 {
    var table = [UInt32](repeating: 0, count: 256)
    for i in 0..<256 {
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        table[i] = c
    }
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
    return crc ^ 0xFFFF_FFFF
}

extension Array where Element == UInt8 {
    mutating func appendLE(_ v: UInt32) { for k in 0..<4 { append(UInt8(truncatingIfNeeded: v >> (8 * k))) } }
    mutating func appendLE(_ v: Int32) { appendLE(UInt32(bitPattern: v)) }
    mutating func appendLE(_ v: Float) { appendLE(v.bitPattern) }
}

/// A tensor file built by hand from its parts, following protocols/tensor-file.md.
func craftTensorFile(header: String, values: [Float], labels: [Int32], version: UInt32 = 1, magic: String = "CTNS",
                     corruptChecksum: Bool = false) -> [UInt8] {
    var b = Array(magic.utf8)
    b.appendLE(version)
    let json = Array(header.utf8)
    b.appendLE(UInt32(json.count))
    b += json
    for v in values { b.appendLE(v) }
    for y in labels { b.appendLE(y) }
    b.appendLE(referenceCRC32(b) ^ (corruptChecksum ? 1 : 0))
    return b
}

func writeBytes(_ bytes: [UInt8], to path: String) {
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
}

func readBytes(_ path: String) -> [UInt8] {
    [UInt8](FileManager.default.contents(atPath: path)!)
}

/// Mean and standard deviation of `values`.
func meanStd(_ values: [Float]) -> (mean: Double, std: Double) {
    let n = Double(values.count)
    let mean = values.reduce(0.0) { $0 + Double($1) } / n
    let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
    return (mean, variance.squareRoot())
}
