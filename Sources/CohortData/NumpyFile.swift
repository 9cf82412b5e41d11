/// NumPy's `.npy` format (versions 1.0, 2.0 and 3.0): a magic string, a version, a header
/// dictionary (`descr`, `fortran_order`, `shape`) and the raw elements.
///
/// The reader treats the file as hostile: the header length, the element count and the data
/// size are checked (for overflow and against the bytes present) before anything is allocated,
/// and every error names the file and what is wrong. Elements of any `NumpyDType` are
/// converted to `Float`; Fortran-order and structured arrays are refused. The writer stores
/// little-endian float32 in format 1.0, as `numpy.save` does, atomically.
public enum NumpyFile {
    /// The six bytes a `.npy` file starts with.
    public static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
    /// The largest header accepted (numpy's reader allows 10 000 bytes by default).
    public static let maxHeaderBytes = 1 << 20
    /// The default cap on the elements of one array (2^30: 4 GiB as float32).
    public static let defaultMaxValues = 1 << 30

    /// Reads a `.npy` file.
    ///
    /// - Parameter maxValues: the most elements accepted, checked before allocating.
    /// - Throws: `DataError` naming the file and the problem (magic, version, header, dtype,
    ///   Fortran order, a size that overflows or exceeds the file or `maxValues`, trailing bytes).
    public static func read(path: String, maxValues: Int = defaultMaxValues) throws -> NumpyArray {
        let file = try RandomAccessFile(path: path)
        return try decode(FileRegionBytes(file: file, start: 0, count: file.size, name: path), maxValues: maxValues)
    }

    /// Decodes a whole `.npy` byte stream (a file or an archive entry) and checks its end.
    static func decode(_ source: SequentialBytes, maxValues: Int) throws -> NumpyArray {
        let (shape, dtype, count) = try readHeader(source, maxValues: maxValues)
        var values = [Float](repeating: 0, count: count)
        try values.withUnsafeMutableBufferPointer { out in
            if dtype.isHostFloat32 {
                try source.read(into: UnsafeMutableRawBufferPointer(out), for: "data")
                return
            }
            let chunk = max(1, (1 << 20) / dtype.itemSize)
            var scratch = [UInt8](repeating: 0, count: min(count, chunk) * dtype.itemSize)
            var done = 0
            while done < count {
                let n = min(chunk, count - done)
                try scratch.withUnsafeMutableBytes { raw in
                    let part = UnsafeMutableRawBufferPointer(rebasing: raw[0..<(n * dtype.itemSize)])
                    try source.read(into: part, for: "data")
                    dtype.convert(UnsafeRawBufferPointer(part), into: UnsafeMutableBufferPointer(rebasing: out[done..<(done + n)]))
                }
                done += n
            }
        }
        try source.finish()
        return NumpyArray(shape: shape, values: values, dtype: dtype)
    }

    /// Decodes a whole `.npy` byte stream of one-byte elements (uint8, int8, bool) as its raw
    /// bytes, without widening them to `Float` (a quarter of the memory). For a wider dtype
    /// only the header is read and `bytes` is nil.
    ///
    /// - Throws: `DataError` as `decode`.
    static func decodeBytes(_ source: SequentialBytes, maxValues: Int) throws -> (shape: [Int], dtype: NumpyDType, bytes: [UInt8]?) {
        let (shape, dtype, count) = try readHeader(source, maxValues: maxValues)
        guard dtype.itemSize == 1 else { return (shape, dtype, nil) }
        let bytes = try source.bytes(count, for: "data")
        try source.finish()
        return (shape, dtype, bytes)
    }

    /// Reads and checks the magic, version and header of a `.npy` stream up to its data:
    /// the shape, the dtype and the element count (at most `maxValues`, exactly filling the rest).
    static func readHeader(_ source: SequentialBytes, maxValues: Int) throws -> (shape: [Int], dtype: NumpyDType, count: Int) {
        let name = source.name
        let found = try source.bytes(6, for: "magic")
        guard found == magic else {
            let shown = found.map { (0x20..<0x7F).contains($0) ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16) }.joined()
            throw DataError("\(name): not a NumPy .npy array (magic at offset 0 is '\(shown)', expected '\\x93NUMPY')")
        }
        let version = try source.bytes(2, for: "format version")
        guard [1, 2, 3].contains(version[0]) && version[1] == 0 else {
            throw DataError("\(name): unsupported .npy format version \(version[0]).\(version[1]) at offset 6 (1.0, 2.0 and 3.0 are read)")
        }
        let lengthBytes = try source.bytes(version[0] == 1 ? 2 : 4, for: "header length")
        let headerLength = version[0] == 1 ? lengthBytes.le16(0) : lengthBytes.le32(0)
        let headerAt = source.position
        guard headerLength <= maxHeaderBytes else {
            throw DataError("\(name): header length \(headerLength) at offset 8 is more than the \(maxHeaderBytes) allowed")
        }
        guard headerLength <= source.remaining else { throw source.truncated("header (\(headerLength) bytes)", needs: headerLength) }
        let header: NumpyHeader
        do { header = try NumpyHeader.parse(try source.bytes(headerLength, for: "header")) } catch let error as NumpyHeaderError {
            throw DataError("\(name): header at offset \(headerAt): \(error)")
        }
        guard let dtype = NumpyDType(descriptor: header.descr) else {
            throw DataError("\(name): unsupported dtype '\(header.descr)' (supported: float16/32/64, int8/16/32/64, uint8/16/32/64, bool; '<', '>' or '|' byte order)")
        }
        guard !header.fortranOrder else {
            throw DataError("\(name): Fortran-order arrays are not supported; save a C-order array (numpy.ascontiguousarray)")
        }
        let count = try elementCount(header.shape, name: name)
        guard count <= maxValues else {
            throw DataError("\(name): shape \(header.shape) holds \(count) elements, more than the \(maxValues) allowed")
        }
        let dataAt = source.position
        let (dataBytes, overflow) = count.multipliedReportingOverflow(by: dtype.itemSize)
        guard !overflow, dataBytes <= source.remaining else {
            throw DataError("\(name): truncated: data (\(header.shape) of \(dtype)) needs \(overflow ? "more than \(Int.max)" : String(dataBytes)) bytes at offset \(dataAt), but the data end at \(source.total)")
        }
        guard dataBytes == source.remaining else {
            throw DataError("\(name): \(source.remaining - dataBytes) unexpected bytes after the array data at offset \(dataAt + dataBytes)")
        }
        return (header.shape, dtype, count)
    }

    /// The product of `shape`, refusing overflow (a zero dimension makes it 0).
    static func elementCount(_ shape: [Int], name: String) throws -> Int {
        if shape.contains(0) { return 0 }
        var count = 1
        for d in shape {
            let (p, o) = count.multipliedReportingOverflow(by: d)
            guard !o else { throw DataError("\(name): shape \(shape) has more elements than can be counted (the product overflows)") }
            count = p
        }
        return count
    }

    /// The bytes of a `.npy` file holding `values` as little-endian float32 with `shape`
    /// (format 1.0, or 2.0 if the header needs more than 65 535 bytes; header padded with
    /// spaces and a newline so the data start at a multiple of 64, like `numpy.save`).
    public static func encode(values: [Float], shape: [Int]) throws -> [UInt8] {
        var out = try header(shape: shape, count: values.count)
        out.reserveCapacity(out.count + values.count * 4)
        for v in values { let b = v.bitPattern.littleEndian; withUnsafeBytes(of: b) { out += $0 } }
        return out
    }

    /// Writes `values` with `shape` as a float32 `.npy` file, atomically (temporary file,
    /// fsync, rename).
    ///
    /// - Throws: `DataError` when `values.count` is not the product of `shape` or the file
    ///   cannot be written.
    public static func write(values: [Float], shape: [Int], to path: String) throws {
        let head: [UInt8]
        do { head = try header(shape: shape, count: values.count) } catch let error as DataError {
            throw DataError("\(path): \(error.description)")
        }
        let out = try AtomicDataFileWriter(path: path)
        try out.write(head)
        #if _endian(little)
        try values.withUnsafeBytes { b in try out.write(b) }
        #else
        try values.map { $0.bitPattern.littleEndian }.withUnsafeBytes { b in try out.write(b) }
        #endif
        try out.commit()
    }

    /// Magic, version, header length and padded header for a float32 array.
    private static func header(shape: [Int], count: Int) throws -> [UInt8] {
        guard shape.allSatisfy({ $0 >= 0 }), (try? elementCount(shape, name: "")) == count else {
            throw DataError("cannot write \(count) values with shape \(shape)")
        }
        var text = Array(NumpyHeader.text(descr: NumpyDType.float32.description, shape: shape).utf8)
        var version: UInt8 = 1
        var prefix = 10
        if text.count + 1 + 64 > 65_535 { version = 2; prefix = 12 }
        let pad = 64 - (prefix + text.count + 1) % 64
        text += [UInt8](repeating: 0x20, count: pad) + [0x0A]
        var out = magic + [version, 0]
        let n = text.count
        out += version == 1 ? [UInt8(n & 0xFF), UInt8(n >> 8)] : [UInt8(n & 0xFF), UInt8((n >> 8) & 0xFF), UInt8((n >> 16) & 0xFF), UInt8(n >> 24)]
        return out + text
    }
}
