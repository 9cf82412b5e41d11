/// A NumPy `.npz` archive (what `numpy.savez` and `numpy.savez_compressed` write): a ZIP file
/// whose entries are `.npy` arrays, stored or deflated, ZIP64 where sizes need it. The key of
/// entry `x.npy` is `x`.
///
/// Opening reads only the central directory; `read` decodes one entry, inflating it as it
/// goes, with every size checked before allocating and the entry's CRC-32 verified.
public final class NumpyArchive {
    /// The archive's path.
    public let path: String
    /// The array keys in archive order (entry names without `.npy`; directories left out).
    public let keys: [String]
    private let file: RandomAccessFile
    private let directory: ZipDirectory

    /// Opens an archive and reads its central directory.
    ///
    /// - Throws: `DataError` naming the file when it is not a readable ZIP archive.
    public init(path: String) throws {
        self.path = path
        file = try RandomAccessFile(path: path)
        directory = try ZipDirectory(file: file)
        keys = directory.entries.filter { !$0.name.hasSuffix("/") }.map { Self.key(of: $0.name) }
    }

    /// Reads the array of `key` (`x` or the entry name `x.npy`).
    ///
    /// - Parameter maxValues: the most elements accepted, checked before allocating.
    /// - Throws: `DataError` naming the archive and entry: no such key, an unsupported entry,
    ///   a corrupt or truncated one, or an invalid `.npy` inside.
    public func read(key: String, maxValues: Int = NumpyFile.defaultMaxValues) throws -> NumpyArray {
        try NumpyFile.decode(try directory.open(try entry(key), in: file), maxValues: maxValues)
    }

    /// Reads the array of `key` as its raw bytes when its elements are one byte each (uint8,
    /// int8, bool): no widening to `Float`. For a wider dtype `bytes` is nil (only the entry's
    /// header is read).
    ///
    /// - Throws: `DataError` as `read(key:maxValues:)`.
    func readBytes(key: String, maxValues: Int = NumpyFile.defaultMaxValues) throws -> (shape: [Int], dtype: NumpyDType, bytes: [UInt8]?) {
        try NumpyFile.decodeBytes(try directory.open(try entry(key), in: file), maxValues: maxValues)
    }

    /// The entry of `key` (`x` or `x.npy`).
    private func entry(_ key: String) throws -> ZipEntry {
        guard let entry = directory.entries.first(where: { $0.name == key }) ?? directory.entries.first(where: { $0.name == key + ".npy" }) else {
            let known = keys.isEmpty ? "it holds none" : "it holds \(keys.joined(separator: ", "))"
            throw DataError("\(path): no array '\(key)' in the archive (\(known))")
        }
        return entry
    }

    /// Reads the first array of the archive.
    ///
    /// - Throws: `DataError` when the archive holds no entry, or as `read(key:)`.
    public func readFirst(maxValues: Int = NumpyFile.defaultMaxValues) throws -> NumpyArray {
        guard let first = directory.entries.first(where: { !$0.name.hasSuffix("/") }) else {
            throw DataError("\(path): the archive holds no arrays")
        }
        return try read(key: first.name, maxValues: maxValues)
    }

    /// `x` for `x.npy`, the name itself otherwise (as numpy's `NpzFile.files`).
    static func key(of name: String) -> String {
        name.hasSuffix(".npy") ? String(name.dropLast(4)) : name
    }
}
