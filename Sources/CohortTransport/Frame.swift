import CCRC32C

/// One message on the wire (spec: `protocols/wire.md`).
///
/// Header, 16 bytes, little-endian: magic `CHRT` (4), protocol version (u16), message type
/// (u16), payload length (u32), CRC32 of the payload (u32); then the payload. The CRC catches
/// corruption the transport missed; authentication comes from TLS and the session handshake.
public struct Frame: Equatable, Sendable {
    /// The four magic bytes every frame starts with.
    public static let magic: [UInt8] = Array("CHRT".utf8)
    /// Header size in bytes.
    public static let headerSize = 16

    public var version: UInt16
    public var type: UInt16
    public var payload: [UInt8]

    /// A frame of `type` carrying `payload`.
    public init(version: UInt16, type: UInt16, payload: [UInt8]) {
        self.version = version
        self.type = type
        self.payload = payload
    }

    /// The frame's bytes: header then payload.
    public func encoded() -> [UInt8] {
        Frame.header(version: version, type: type, length: payload.count, crc: Frame.crc32(payload), reserving: payload.count) + payload
    }

    /// The 16 header bytes of a frame (with room reserved for `reserving` more bytes).
    static func header(version: UInt16, type: UInt16, length: Int, crc: UInt32, reserving extra: Int = 0) -> [UInt8] {
        var out = Frame.magic
        out.reserveCapacity(Frame.headerSize + extra)
        append(version, to: &out)
        append(type, to: &out)
        append(UInt32(length), to: &out)
        append(crc, to: &out)
        return out
    }

    /// The frame checksum of `bytes`: CRC-32C (Castagnoli, the SSE4.2 instruction, memory
    /// speed) since protocol 4; protocol 3 and before used zlib's CRC-32 (IEEE), which ran at
    /// about 2.4 GB/s here and was paid on every byte of every model at both ends.
    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { crc32($0, continuing: 0) }
    }

    /// The checksum of the bytes already summed into `crc`, followed by `bytes`.
    public static func crc32(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32) -> UInt32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return crc }
        return cohort_crc32c(crc, base, bytes.count)
    }
}

/// A parsed frame header, before its payload has been read.
public struct FrameHeader: Equatable, Sendable {
    public var version: UInt16
    public var type: UInt16
    public var length: Int
    public var crc: UInt32

    /// Parses the 16 header bytes; rejects a wrong magic and a length over `maxPayload`
    /// before any payload is read or allocated.
    public static func parse(_ bytes: [UInt8], maxPayload: Int) throws(FrameError) -> FrameHeader {
        guard bytes.count == Frame.headerSize else { throw .truncated(expected: Frame.headerSize, got: bytes.count) }
        guard Array(bytes[0..<4]) == Frame.magic else { throw .badMagic(Array(bytes[0..<4])) }
        let version = UInt16(bytes[4]) | UInt16(bytes[5]) << 8
        let type = UInt16(bytes[6]) | UInt16(bytes[7]) << 8
        let length = Int(UInt32(bytes[8]) | UInt32(bytes[9]) << 8 | UInt32(bytes[10]) << 16 | UInt32(bytes[11]) << 24)
        let crc = UInt32(bytes[12]) | UInt32(bytes[13]) << 8 | UInt32(bytes[14]) << 16 | UInt32(bytes[15]) << 24
        guard length <= maxPayload else { throw .tooLarge(length: length, limit: maxPayload) }
        return FrameHeader(version: version, type: type, length: length, crc: crc)
    }
}

/// Why bytes are not a valid frame.
public enum FrameError: Error, Equatable, CustomStringConvertible {
    case badMagic([UInt8])
    case tooLarge(length: Int, limit: Int)
    case truncated(expected: Int, got: Int)
    case checksum(expected: UInt32, computed: UInt32)
    case unexpectedVersion(got: UInt16, expected: UInt16)

    public var description: String {
        switch self {
        case .badMagic(let m): return "not a Cohort frame (magic \(m.map { String(format: "%02x", $0) }.joined()), expected 43485254 'CHRT')"
        case let .tooLarge(length, limit): return "frame payload of \(length) bytes exceeds the limit of \(limit)"
        case let .truncated(expected, got): return "connection closed mid-frame: \(got) of \(expected) bytes"
        case let .checksum(expected, computed): return "frame CRC32 mismatch (header \(String(expected, radix: 16)), payload \(String(computed, radix: 16)))"
        case let .unexpectedVersion(got, expected): return "frame of protocol version \(got) on a connection that agreed on version \(expected)"
        }
    }
}

private func append<T: FixedWidthInteger>(_ v: T, to out: inout [UInt8]) {
    for i in 0..<(T.bitWidth / 8) { out.append(UInt8(truncatingIfNeeded: v >> (8 * i))) }
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation
