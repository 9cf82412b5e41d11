/// Bytes read front to back, exactly `total` of them: a `.npy` file, or one entry of a `.npz`
/// archive (stored or inflated as it is read), with a running CRC-32.
protocol SequentialBytes: AnyObject {
    /// What the bytes are, for errors: the file, or the archive and entry.
    var name: String { get }
    /// Bytes the source holds in all.
    var total: Int { get }
    /// Bytes read so far.
    var position: Int { get }
    /// Fills `buffer` with the next bytes; throws when fewer than `buffer.count` remain.
    func read(into buffer: UnsafeMutableRawBufferPointer, for what: String) throws
    /// Checks what only the end can tell (a ZIP entry's CRC-32, the end of a deflate stream).
    func finish() throws
}

extension SequentialBytes {
    var remaining: Int { total - position }

    /// The error for a field of `count` bytes at the current position that the source cannot hold.
    func truncated(_ what: String, needs count: Int) -> DataError {
        DataError("\(name): truncated: \(what) needs \(count) bytes at offset \(position), but the data end at \(total)")
    }

    /// The next `count` bytes.
    func bytes(_ count: Int, for what: String) throws -> [UInt8] {
        guard count >= 0, count <= remaining else { throw truncated(what, needs: count) }
        var out = [UInt8](repeating: 0, count: count)
        try out.withUnsafeMutableBytes { b in try read(into: b, for: what) }
        return out
    }
}

/// `count` bytes of a file starting at `start`; when `expectedCRC` is given, `finish` checks it.
final class FileRegionBytes: SequentialBytes {
    let name: String
    let total: Int
    private(set) var position = 0
    private let file: RandomAccessFile
    private let start: Int
    private let expectedCRC: UInt32?
    private var crc: UInt32 = 0

    /// The caller has checked that the region lies inside the file.
    init(file: RandomAccessFile, start: Int, count: Int, name: String, expectedCRC: UInt32? = nil) {
        self.file = file
        self.start = start
        self.total = count
        self.name = name
        self.expectedCRC = expectedCRC
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, for what: String) throws {
        guard buffer.count <= remaining else { throw truncated(what, needs: buffer.count) }
        try file.read(at: start + position, into: buffer, for: what)
        if expectedCRC != nil { crc = crc32Update(crc, UnsafeRawBufferPointer(buffer)) }
        position += buffer.count
    }

    func finish() throws {
        if let expectedCRC, position == total, crc != expectedCRC {
            throw DataError("\(name): CRC-32 mismatch (stored 0x\(hexString(expectedCRC)), computed 0x\(hexString(crc))): the entry is corrupted")
        }
    }
}

/// A ZIP entry compressed with raw deflate: `compressedCount` bytes at `start` inflate, as
/// they are read, to exactly `total` bytes whose CRC-32 must be `expectedCRC`.
final class InflatingBytes: SequentialBytes {
    let name: String
    let total: Int
    private(set) var position = 0
    private let file: RandomAccessFile
    private let start: Int
    private let compressedCount: Int
    private let expectedCRC: UInt32
    private var consumed = 0
    private var crc: UInt32 = 0
    private let inflater: RawInflater
    private var input: [UInt8] = []
    private var inputUsed = 0

    init(file: RandomAccessFile, start: Int, compressedCount: Int, uncompressedCount: Int, name: String, expectedCRC: UInt32) throws {
        self.file = file
        self.start = start
        self.compressedCount = compressedCount
        self.total = uncompressedCount
        self.name = name
        self.expectedCRC = expectedCRC
        inflater = try RawInflater(name: name)
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, for what: String) throws {
        guard buffer.count <= remaining else { throw truncated(what, needs: buffer.count) }
        var made = 0
        while made < buffer.count {
            try refill()
            let out = UnsafeMutableRawBufferPointer(rebasing: buffer[made...])
            let step = try input.withUnsafeBytes { b in
                try inflater.inflate(UnsafeRawBufferPointer(rebasing: b[inputUsed...]), into: out)
            }
            inputUsed += step.consumed
            made += step.produced
            if step.produced == 0 && (inflater.ended || (step.consumed == 0 && consumed == compressedCount && inputUsed == input.count)) {
                throw DataError("\(name): the compressed data end after \(position + made) bytes, but the entry declares \(total) (\(what) is cut)")
            }
        }
        crc = crc32Update(crc, UnsafeRawBufferPointer(buffer))
        position += buffer.count
    }

    /// Loads the next piece of compressed input when the current one is used up.
    private func refill() throws {
        guard inputUsed == input.count, consumed < compressedCount else { return }
        let n = min(1 << 16, compressedCount - consumed)
        input = try file.bytes(at: start + consumed, count: n, for: "compressed data of \(name)")
        inputUsed = 0
        consumed += n
    }

    func finish() throws {
        guard position == total else { return }
        // The stream must end exactly here: inflating once more may produce no byte.
        var scratch: UInt8 = 0
        while !inflater.ended {
            try refill()
            let step = try withUnsafeMutableBytes(of: &scratch) { out in
                try input.withUnsafeBytes { b in try inflater.inflate(UnsafeRawBufferPointer(rebasing: b[inputUsed...]), into: out) }
            }
            inputUsed += step.consumed
            if step.produced > 0 { throw DataError("\(name): the compressed data inflate to more than the \(total) bytes the entry declares") }
            if !inflater.ended && step.consumed == 0 && inputUsed == input.count && consumed == compressedCount {
                throw DataError("\(name): the compressed data end before the deflate stream does")
            }
        }
        guard crc == expectedCRC else {
            throw DataError("\(name): CRC-32 mismatch (stored 0x\(hexString(expectedCRC)), computed 0x\(hexString(crc))): the entry is corrupted")
        }
    }
}

/// Eight lowercase hex digits.
func hexString(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 8 - s.count) + s
}
