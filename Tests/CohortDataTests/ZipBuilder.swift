import CZlib
import Foundation

/// A ZIP archive built byte by byte (PKWARE APPNOTE), with every field overridable so tests can
/// produce both valid archives (stored, deflated, ZIP64) and hostile ones.
struct ZipBuilder {
    struct Entry {
        var name: String
        var data: [UInt8]
        var deflate = false
        var flags = 0
        var method: Int?
        var crc: UInt32?
        var compressedSize: Int?
        var uncompressedSize: Int?
        var localOffset: Int?
        var localName: String?
        /// Replaces the compressed payload (after compression).
        var payload: [UInt8]?
    }

    var entries: [Entry]
    /// Saturate sizes and offsets in the central directory (ZIP64 extra fields) and write the
    /// ZIP64 end record and locator.
    var zip64 = false
    var directoryOffset: Int?
    var directorySize: Int?
    var entryCount: Int?
    var comment: [UInt8] = []

    init(_ entries: [Entry]) { self.entries = entries }

    /// `x.npy` entries (stored) from `.npy` bytes.
    static func npz(_ arrays: [(String, [UInt8])], deflate: Bool = false) -> ZipBuilder {
        ZipBuilder(arrays.map { Entry(name: $0.0 + ".npy", data: $0.1, deflate: deflate) })
    }

    func bytes() -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        for e in entries {
            let payload = e.payload ?? (e.deflate ? rawDeflate(e.data) : e.data)
            let method = e.method ?? (e.deflate ? 8 : 0)
            let crc = e.crc ?? crc32Of(e.data)
            let csize = e.compressedSize ?? payload.count, usize = e.uncompressedSize ?? e.data.count
            let offset = e.localOffset ?? out.count
            let name = Array(e.name.utf8), localName = Array((e.localName ?? e.name).utf8)
            // Local header (sizes as numpy's zipfile writes with force_zip64: saturated + extra).
            var local: [UInt8] = []
            local.le32(0x0403_4B50); local.le16(45); local.le16(e.flags); local.le16(method); local.le16(0); local.le16(0x21)
            local.le32(Int(crc)); local.le32(0xFFFF_FFFF); local.le32(0xFFFF_FFFF)
            local.le16(localName.count); local.le16(20)
            local += localName
            local.le16(1); local.le16(16); local.le64(usize); local.le64(csize)
            out += local + payload
            // Central header.
            var extra: [UInt8] = []
            if zip64 { extra.le16(1); extra.le16(24); extra.le64(usize); extra.le64(csize); extra.le64(offset) }
            central.le32(0x0201_4B50); central.le16(45); central.le16(45); central.le16(e.flags); central.le16(method)
            central.le16(0); central.le16(0x21); central.le32(Int(crc))
            central.le32(zip64 ? 0xFFFF_FFFF : csize); central.le32(zip64 ? 0xFFFF_FFFF : usize)
            central.le16(name.count); central.le16(extra.count); central.le16(0); central.le16(0); central.le16(0); central.le32(0)
            central.le32(zip64 ? 0xFFFF_FFFF : offset)
            central += name + extra
        }
        let cdOffset = directoryOffset ?? out.count, cdSize = directorySize ?? central.count, count = entryCount ?? entries.count
        out += central
        if zip64 {
            let recordAt = out.count
            out.le32(0x0606_4B50); out.le64(44); out.le16(45); out.le16(45); out.le32(0); out.le32(0)
            out.le64(count); out.le64(count); out.le64(cdSize); out.le64(cdOffset)
            out.le32(0x0706_4B50); out.le32(0); out.le64(recordAt); out.le32(1)
        }
        out.le32(0x0605_4B50); out.le16(0); out.le16(0)
        out.le16(zip64 ? 0xFFFF : count); out.le16(zip64 ? 0xFFFF : count)
        out.le32(zip64 ? 0xFFFF_FFFF : cdSize); out.le32(zip64 ? 0xFFFF_FFFF : cdOffset)
        out.le16(comment.count)
        return out + comment
    }
}

/// zlib's CRC-32 of `bytes`.
func crc32Of(_ bytes: [UInt8]) -> UInt32 {
    bytes.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
}

/// `bytes` compressed as a raw deflate stream (no zlib header), as ZIP method 8 stores it.
func rawDeflate(_ bytes: [UInt8]) -> [UInt8] {
    var stream = z_stream()
    _ = deflateInit2_(&stream, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
    var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))) + 16)
    var input = bytes
    let produced = input.withUnsafeMutableBufferPointer { inBuf in
        out.withUnsafeMutableBufferPointer { outBuf in
            stream.next_in = inBuf.baseAddress
            stream.avail_in = uInt(inBuf.count)
            stream.next_out = outBuf.baseAddress
            stream.avail_out = uInt(outBuf.count)
            _ = deflate(&stream, Z_FINISH)
            return outBuf.count - Int(stream.avail_out)
        }
    }
    deflateEnd(&stream)
    return Array(out[..<produced])
}

extension Array where Element == UInt8 {
    mutating func le16(_ v: Int) { for k in 0..<2 { append(UInt8(truncatingIfNeeded: v >> (8 * k))) } }
    mutating func le32(_ v: Int) { for k in 0..<4 { append(UInt8(truncatingIfNeeded: v >> (8 * k))) } }
    mutating func le64(_ v: Int) { for k in 0..<8 { append(UInt8(truncatingIfNeeded: v >> (8 * k))) } }
}

/// `.npy` bytes assembled from a header dictionary text and raw data (version 1.0 unless given).
func craftNpy(_ header: String, data: [UInt8] = [], version: (UInt8, UInt8) = (1, 0), magic: [UInt8] = [0x93] + Array("NUMPY".utf8)) -> [UInt8] {
    var text = Array(header.utf8)
    let prefix = version.0 == 1 ? 10 : 12
    text += [UInt8](repeating: 0x20, count: 63 - (prefix + text.count) % 64) + [0x0A]
    var out = magic + [version.0, version.1]
    if version.0 == 1 { out.le16(text.count) } else { out.le32(text.count) }
    return out + text + data
}
