/// One file in a ZIP archive, as its central directory describes it.
struct ZipEntry: Equatable {
    var name: String
    var flags: Int
    var method: Int
    var crc: UInt32
    var compressedSize: Int
    var uncompressedSize: Int
    var localHeaderOffset: Int
}

/// The central directory of a ZIP archive (PKWARE APPNOTE 6.3): the end-of-central-directory
/// record (and its ZIP64 form), then one header per entry. Only what a `.npz` needs: a single
/// disk, no encryption. Every offset and size is checked against the file before it is used.
struct ZipDirectory {
    let entries: [ZipEntry]
    /// Where the central directory starts: entry data must end before it.
    let directoryOffset: Int

    /// The largest central directory read (1.4 million entries of a short name).
    static let maxDirectoryBytes = 64 << 20

    static let eocdSignature = 0x0605_4B50
    static let zip64LocatorSignature = 0x0706_4B50
    static let zip64EOCDSignature = 0x0606_4B50
    static let centralSignature = 0x0201_4B50
    static let localSignature = 0x0403_4B50

    init(file: RandomAccessFile) throws {
        let path = file.path
        // The end record is the last 22 bytes plus a comment of up to 65 535 bytes.
        let tailCount = min(file.size, 22 + 0xFFFF)
        let tailAt = file.size - tailCount
        let tail = try file.bytes(at: tailAt, count: tailCount, for: "end of the archive")
        var found: Int?
        var p = tailCount - 22
        while p >= 0 {
            if tail.le32(p) == Self.eocdSignature && p + 22 + tail.le16(p + 20) == tailCount { found = p; break }
            p -= 1
        }
        guard let eocd = found else {
            throw DataError("\(path): not a ZIP archive (no end-of-central-directory record in the last \(tailCount) bytes)")
        }
        let eocdAt = tailAt + eocd
        guard tail.le16(eocd + 4) == 0 && tail.le16(eocd + 6) == 0 && tail.le16(eocd + 8) == tail.le16(eocd + 10) else {
            throw DataError("\(path): multi-disk ZIP archives are not supported (end record at offset \(eocdAt))")
        }
        var count = tail.le16(eocd + 10), size = tail.le32(eocd + 12), offset = tail.le32(eocd + 16)
        var directoryEnd = eocdAt
        // ZIP64: a locator right before the end record points at the 64-bit end record.
        if eocdAt >= 20, try file.bytes(at: eocdAt - 20, count: 4, for: "ZIP64 locator").le32(0) == Self.zip64LocatorSignature {
            let locator = try file.bytes(at: eocdAt - 20, count: 20, for: "ZIP64 locator")
            let recordAt = locator.le64(8)
            guard locator.le32(4) == 0 && locator.le32(16) <= 1 else {
                throw DataError("\(path): multi-disk ZIP archives are not supported (ZIP64 locator at offset \(eocdAt - 20))")
            }
            guard eocdAt >= 76 && recordAt <= eocdAt - 76 else {
                throw DataError("\(path): ZIP64 end record offset \(recordAt) (locator at offset \(eocdAt - 20)) leaves no room for the 56-byte record before the locator")
            }
            let record = try file.bytes(at: recordAt, count: 56, for: "ZIP64 end record")
            guard record.le32(0) == Self.zip64EOCDSignature else {
                throw DataError("\(path): no ZIP64 end record at offset \(recordAt), where the locator points")
            }
            guard record.le32(16) == 0 && record.le32(20) == 0 && record.le64(24) == record.le64(32) else {
                throw DataError("\(path): multi-disk ZIP archives are not supported (ZIP64 end record at offset \(recordAt))")
            }
            count = record.le64(32); size = record.le64(40); offset = record.le64(48)
            directoryEnd = recordAt
        }
        guard offset <= directoryEnd, size <= directoryEnd - offset else {
            throw DataError("\(path): central directory (\(size) bytes at offset \(offset)) does not fit before its end record at offset \(directoryEnd)")
        }
        guard size <= Self.maxDirectoryBytes else {
            throw DataError("\(path): central directory of \(size) bytes is larger than the \(Self.maxDirectoryBytes) allowed")
        }
        guard count <= size / 46 else {
            throw DataError("\(path): \(count) entries cannot fit in a central directory of \(size) bytes (at least 46 bytes each)")
        }
        let directory = try file.bytes(at: offset, count: size, for: "central directory")
        var entries: [ZipEntry] = []
        entries.reserveCapacity(count)
        var names = Set<String>()
        var at = 0
        for index in 0..<count {
            let where_ = "central directory entry \(index) at offset \(offset + at)"
            guard directory.count - at >= 46 else { throw DataError("\(path): \(where_) is cut off by the end of the directory") }
            guard directory.le32(at) == Self.centralSignature else { throw DataError("\(path): \(where_) has a wrong signature") }
            let nameLength = directory.le16(at + 28), extraLength = directory.le16(at + 30), commentLength = directory.le16(at + 32)
            let length = 46 + nameLength + extraLength + commentLength
            guard directory.count - at >= length else { throw DataError("\(path): \(where_) (\(length) bytes) is cut off by the end of the directory") }
            let name = String(decoding: directory[(at + 46)..<(at + 46 + nameLength)], as: UTF8.self)
            var entry = ZipEntry(name: name, flags: directory.le16(at + 8), method: directory.le16(at + 10), crc: UInt32(directory.le32(at + 16)),
                                 compressedSize: directory.le32(at + 20), uncompressedSize: directory.le32(at + 24),
                                 localHeaderOffset: directory.le32(at + 42))
            let extra = Array(directory[(at + 46 + nameLength)..<(at + 46 + nameLength + extraLength)])
            try Self.applyZip64(extra, to: &entry, diskStart: directory.le16(at + 34), path: path, where: where_)
            guard names.insert(name).inserted else { throw DataError("\(path): entry name '\(name)' appears twice") }
            entries.append(entry)
            at += length
        }
        self.entries = entries
        directoryOffset = offset
    }

    /// Replaces the saturated 32-bit fields (0xFFFFFFFF) with the ZIP64 extra field's values,
    /// which come in a fixed order, only for the saturated ones.
    private static func applyZip64(_ extra: [UInt8], to entry: inout ZipEntry, diskStart: Int, path: String, where place: String) throws {
        let saturated = 0xFFFF_FFFF
        let needs = [entry.uncompressedSize == saturated, entry.compressedSize == saturated, entry.localHeaderOffset == saturated]
        var at = 0
        var zip64: [UInt8]?
        while extra.count - at >= 4 {
            let id = extra.le16(at), length = extra.le16(at + 2)
            guard extra.count - at - 4 >= length else { throw DataError("\(path): \(place): extra field 0x\(String(id, radix: 16)) overruns the extra data") }
            if id == 1 { zip64 = Array(extra[(at + 4)..<(at + 4 + length)]) }
            at += 4 + length
        }
        guard needs.contains(true) else { return }
        guard let zip64 else { throw DataError("\(path): \(place) ('\(entry.name)') has a saturated size or offset but no ZIP64 extra field") }
        var k = 0
        func next() throws -> Int {
            guard zip64.count - k >= 8 else { throw DataError("\(path): \(place) ('\(entry.name)'): the ZIP64 extra field is too short") }
            defer { k += 8 }
            return zip64.le64(k)
        }
        if needs[0] { entry.uncompressedSize = try next() }
        if needs[1] { entry.compressedSize = try next() }
        if needs[2] { entry.localHeaderOffset = try next() }
        guard diskStart == 0 || diskStart == 0xFFFF else { throw DataError("\(path): \(place): multi-disk ZIP archives are not supported") }
    }

    /// The bytes of `entry` as a sequential source: checks its local header, the place of its
    /// data, the method and sizes; the source verifies the CRC-32 at its end.
    func open(_ entry: ZipEntry, in file: RandomAccessFile) throws -> SequentialBytes {
        let name = "\(file.path): entry '\(entry.name)'"
        guard entry.flags & 1 == 0 else { throw DataError("\(name): encrypted entries are not supported") }
        let at = entry.localHeaderOffset
        guard at <= directoryOffset, directoryOffset - at >= 30 else {
            throw DataError("\(name): local header offset \(at) does not lie before the central directory at offset \(directoryOffset)")
        }
        let local = try file.bytes(at: at, count: 30, for: "local header of '\(entry.name)'")
        guard local.le32(0) == Self.localSignature else { throw DataError("\(name): no local header signature at offset \(at)") }
        let nameLength = local.le16(26), extraLength = local.le16(28)
        let dataAt = at + 30 + nameLength + extraLength
        guard dataAt <= directoryOffset else {
            throw DataError("\(name): local header at offset \(at) runs into the central directory at offset \(directoryOffset)")
        }
        let localName = try file.bytes(at: at + 30, count: nameLength, for: "local name of '\(entry.name)'")
        guard localName == Array(entry.name.utf8) else {
            throw DataError("\(name): the local header at offset \(at) names '\(String(decoding: localName, as: UTF8.self))' instead")
        }
        guard entry.compressedSize <= directoryOffset - dataAt else {
            throw DataError("\(name): \(entry.compressedSize) bytes of data at offset \(dataAt) run past the central directory at offset \(directoryOffset)")
        }
        switch entry.method {
        case 0:
            guard entry.compressedSize == entry.uncompressedSize else {
                throw DataError("\(name): stored entry has compressed size \(entry.compressedSize) but size \(entry.uncompressedSize)")
            }
            return FileRegionBytes(file: file, start: dataAt, count: entry.compressedSize, name: name, expectedCRC: entry.crc)
        case 8:
            // Deflate cannot expand data by more than about 1032 : 1.
            let (bound, overflow) = entry.compressedSize.multipliedReportingOverflow(by: 1032)
            guard overflow || entry.uncompressedSize <= bound + 1024 else {
                throw DataError("\(name): declares \(entry.uncompressedSize) bytes inflated from \(entry.compressedSize), more than deflate can produce")
            }
            return try InflatingBytes(file: file, start: dataAt, compressedCount: entry.compressedSize, uncompressedCount: entry.uncompressedSize,
                                      name: name, expectedCRC: entry.crc)
        default:
            throw DataError("\(name): compression method \(entry.method) is not supported (0 stored and 8 deflate are)")
        }
    }
}
