import CohortNN
import CohortTensor
import Foundation

/// The Cohort tensor file (`.ctf`, `protocols/tensor-file.md`): samples as little-endian
/// float32, one int32 label per sample (−1 = unlabelled), a JSON header saying what the samples
/// are, and a CRC-32 of everything.
///
/// The writer is atomic (temporary file, fsync, rename). The reader checks every size against
/// the bytes in the file before allocating, then the checksum, then that values are finite
/// and labels in range; every error names the file, the field and its byte offset.
public enum TensorFile {
    /// The four bytes a tensor file starts with.
    public static let magic: [UInt8] = Array("CTNS".utf8)
    /// The format version this code writes and the newest it reads.
    public static let version: UInt32 = 1
    /// Bytes before the header: magic, version, header length.
    static let prefixBytes = 12

    /// Writes `set` to `path` atomically: labelled samples first (in order), then unlabelled
    /// ones with label −1. `meta` goes into the header's free `meta` dictionary.
    ///
    /// - Throws: `DataError` when a value is not finite (naming the row), the sample shape
    ///   cannot be stored, or the file cannot be written.
    public static func write(_ set: SiteData, to path: String, meta: [String: String] = [:]) throws {
        let f = set.features
        let n = set.labelled.count + set.unlabelled.rows
        let layout: String
        switch set.sampleShape.count {
        case 1: layout = "NF"
        case 3: layout = "NCHW"
        default: throw DataError("\(path): sample shape \(set.sampleShape) cannot be stored (rank 1 [F] or rank 3 [C, H, W] only)")
        }
        for (part, tensor) in [("labelled", set.labelled.inputs), ("unlabelled", set.unlabelled)] where !tensor.isFinite {
            let flat = tensor.data.firstIndex { !$0.isFinite }!
            throw DataError("\(path): \(part) row \(flat / f), value \(flat % f) is \(tensor.data[flat]); values must be finite")
        }
        let header = TensorFileHeader(shape: [n] + set.sampleShape, layout: layout, classes: set.classes, classNames: set.classNames,
                                      featureNames: layout == "NF" ? set.featureNames : nil, meta: meta.isEmpty ? nil : meta)
        do { try header.validate() } catch { throw DataError("\(path): cannot write: \(error)") }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var json = [UInt8](try encoder.encode(header))
        // Pad with spaces (valid JSON whitespace) so the values start 4-byte aligned.
        while (prefixBytes + json.count) % 4 != 0 { json.append(0x20) }
        guard json.count <= TensorFileHeader.maxHeaderBytes else {
            throw DataError("\(path): header is \(json.count) bytes, more than the \(TensorFileHeader.maxHeaderBytes) allowed")
        }
        let out = try AtomicDataFileWriter(path: path)
        try out.write(magic)
        try out.u32(version)
        try out.u32(UInt32(json.count))
        try out.write(json)
        for tensor in [set.labelled.inputs, set.unlabelled] {
            try writeLittleEndian(tensor.data, to: out)
        }
        var labels = [Int32](repeating: -1, count: n)
        for (i, y) in set.labelled.labels.enumerated() { labels[i] = Int32(y) }
        try writeLittleEndian(labels, to: out)
        try out.u32(out.crc)
        try out.commit()
    }

    /// Reads only the header of a tensor file (checking magic, version and header rules).
    public static func readHeader(path: String) throws -> TensorFileHeader {
        let r = try DataFileReader(path: path)
        return try readHeader(r)
    }

    /// Reads a tensor file into a site's data: rows labelled −1 become `unlabelled`, the others
    /// `labelled` (both in file order).
    ///
    /// - Throws: `DataError` for a truncated file, wrong magic, newer version, bad header,
    ///   checksum mismatch, non-finite value or out-of-range label, naming the offset.
    public static func read(path: String) throws -> SiteData {
        let (header, values, labels) = try readRows(path: path)
        let n = header.sampleCount, f = header.features
        var labelled: [Int] = []
        labelled.reserveCapacity(n)
        for (row, y) in labels.enumerated() where y >= 0 { labelled.append(row) }

        let all = Tensor(shape: [n, f], data: values)
        let labelledData: LabelledData
        let unlabelled: Tensor
        if labelled.count == n {
            labelledData = LabelledData(inputs: all, labels: labels.map(Int.init))
            unlabelled = Tensor(shape: [0, f])
        } else {
            let unlabelledRows = (0..<n).filter { labels[$0] < 0 }
            labelledData = LabelledData(inputs: all.gatherRows(labelled), labels: labelled.map { Int(labels[$0]) })
            unlabelled = all.gatherRows(unlabelledRows)
        }
        return SiteData(labelled: labelledData, unlabelled: unlabelled, sampleShape: header.sampleShape, classes: header.classes,
                        featureNames: header.featureNames, classNames: header.classNames)
    }

    /// Reads a tensor file's samples in file order, labelled or not: the header, the values
    /// `[N × F]` and the labels (−1 for unlabelled rows), after every check of `read(path:)`.
    public static func readRows(path: String) throws -> (header: TensorFileHeader, values: [Float], labels: [Int32]) {
        let r = try DataFileReader(path: path)
        let header = try readHeader(r)
        let n = header.sampleCount, f = header.features
        // Every size against the file before allocating anything.
        let valuesAt = r.offset
        let (valueBytes, o1) = n.multipliedReportingOverflow(by: f * 4)
        guard !o1, valueBytes <= r.remaining else { throw r.truncated("values (\(n) × \(f) float32)", needs: o1 ? Int.max : valueBytes) }
        let labelsAt = valuesAt + valueBytes
        guard n * 4 <= r.size - labelsAt else { throw r.truncated("labels (\(n) int32)", needs: n * 4, at: labelsAt) }
        let checksumAt = labelsAt + n * 4
        guard 4 <= r.size - checksumAt else { throw r.truncated("checksum (u32)", needs: 4, at: checksumAt) }
        guard r.size == checksumAt + 4 else {
            throw DataError("\(path): \(r.size - checksumAt - 4) unexpected bytes after the checksum at offset \(checksumAt + 4)")
        }

        var values = [Float].uninitialized(count: n * f)
        try values.withUnsafeMutableBytes { b in try r.read(into: b, for: "values") }
        var labels = [Int32](repeating: 0, count: n)
        try labels.withUnsafeMutableBytes { b in try r.read(into: b, for: "labels") }
        #if _endian(big)
        for i in values.indices { values[i] = Float(bitPattern: UInt32(littleEndian: values[i].bitPattern)) }
        for i in labels.indices { labels[i] = Int32(littleEndian: labels[i]) }
        #endif
        let computed = r.crc
        let stored = try r.u32("checksum")
        guard stored == computed else {
            throw DataError("\(path): checksum mismatch at offset \(checksumAt) (stored 0x\(hex(stored)), computed 0x\(hex(computed))): the file is corrupted")
        }

        let allFinite = values.withUnsafeBufferPointer { VectorKernels.allFinite($0) }
        if !allFinite, let flat = values.firstIndex(where: { !$0.isFinite }) {
            throw DataError("\(path): row \(flat / f), value \(flat % f) (offset \(valuesAt + flat * 4)) is \(values[flat]); values must be finite")
        }
        for (row, y) in labels.enumerated() {
            guard y >= -1 && Int(y) < header.classes else {
                throw DataError("\(path): label \(y) of row \(row) (offset \(labelsAt + row * 4)) is outside -1..<\(header.classes)")
            }
        }
        return (header, values, labels)
    }

    private static func readHeader(_ r: DataFileReader) throws -> TensorFileHeader {
        let path = r.path
        let found = try r.bytes(4, for: "magic")
        guard found == magic else {
            let shown = found.map { (0x20..<0x7F).contains($0) ? String(UnicodeScalar($0)) : "." }.joined()
            throw DataError("\(path): not a Cohort tensor file (magic at offset 0 is '\(shown)', expected 'CTNS')")
        }
        let v = try r.u32("format version")
        guard v <= version else { throw DataError("\(path): format version \(v) at offset 4 is newer than this reader's \(version)") }
        guard v >= 1 else { throw DataError("\(path): unsupported format version \(v) at offset 4") }
        let h = Int(try r.u32("header length"))
        guard h >= 2 && h <= TensorFileHeader.maxHeaderBytes else {
            throw DataError("\(path): header length \(h) at offset 8 is outside 2…\(TensorFileHeader.maxHeaderBytes)")
        }
        guard h <= r.remaining else { throw r.truncated("header (\(h) bytes)", needs: h) }
        let json = try r.bytes(h, for: "header")
        let header: TensorFileHeader
        do { header = try JSONDecoder().decode(TensorFileHeader.self, from: Data(json)) } catch {
            throw DataError("\(path): header at offset \(prefixBytes) is not a valid tensor-file header: \(describe(error))")
        }
        do { try header.validate() } catch { throw DataError("\(path): header at offset \(prefixBytes): \(error)") }
        return header
    }

    private static func writeLittleEndian<T: FixedWidthInteger>(_ values: [T], to out: AtomicDataFileWriter) throws {
        #if _endian(big)
        let le = values.map { $0.littleEndian }
        try le.withUnsafeBytes { b in try out.write(b) }
        #else
        try values.withUnsafeBytes { b in try out.write(b) }
        #endif
    }

    private static func writeLittleEndian(_ values: [Float], to out: AtomicDataFileWriter) throws {
        #if _endian(big)
        try writeLittleEndian(values.map(\.bitPattern), to: out)
        #else
        try values.withUnsafeBytes { b in try out.write(b) }
        #endif
    }

    private static func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }

    /// A one-line description of a JSON decoding error.
    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "missing field '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
            return "field '\(c.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type"
        case DecodingError.dataCorrupted(let c):
            return c.codingPath.isEmpty ? "not valid JSON" : "field '\(c.codingPath.map(\.stringValue).joined(separator: "."))' is malformed"
        default: return "\(error)"
        }
    }
}
