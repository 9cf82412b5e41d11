import CohortData
import CohortNN
import CohortTensor
import FuzzSupport

/// A tensor file (.ctf): `TensorFile.readHeader` and `TensorFile.read` (header JSON and its
/// rules, sizes against the file, CRC-32, finite values, labels). Each input is tried as
/// written and with its CRC trailer recomputed.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTensorFile(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = FuzzInput.bytes(data, size)
    for bytes in [input, Checksums.withCRC32Trailer(input)].compactMap({ $0 }) {
        let path = FuzzInput.file(bytes)
        _ = try? TensorFile.readHeader(path: path)
        guard let set = try? TensorFile.read(path: path) else { continue }
        if set.labelled.inputs.shape[0] + set.unlabelled.shape[0] != set.count { fatalError("row counts do not add up") }
    }
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzTensorFileInit(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    FuzzInput.writeSeedsIfAsked(tensorFileSeeds)
    return 0
}

/// Tensor files written by `TensorFile.write`: tabular (with names, labelled and unlabelled
/// rows) and images (NCHW).
func tensorFileSeeds() throws -> [(name: String, bytes: [UInt8])] {
    let tabular = SiteData(labelled: LabelledData(inputs: Tensor(shape: [3, 2], data: [0.5, -1, 2, 3.25, 0, 1e-3]), labels: [0, 1, 2]),
                           unlabelled: Tensor(shape: [1, 2], data: [7, 8]), sampleShape: [2], classes: 3,
                           featureNames: ["age", "dose"], classNames: ["low", "mid", "high"])
    let images = SiteData(labelled: LabelledData(inputs: Tensor(shape: [2, 8], data: (0..<16).map { Float($0) / 16 }), labels: [1, 0]),
                          sampleShape: [2, 2, 2], classes: 2)
    var seeds: [(name: String, bytes: [UInt8])] = []
    let sets: [(String, SiteData, [String: String])] = [("tabular", tabular, ["site": "a"]), ("images", images, [:])]
    for (name, set, meta) in sets {
        try TensorFile.write(set, to: FuzzInput.scratchPath, meta: meta)
        seeds.append((name, FuzzInput.read(FuzzInput.scratchPath)))
    }
    return seeds
}
