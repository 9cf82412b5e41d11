import CohortCheckpoint
import CohortTensor
import FuzzSupport

/// A safetensors file: `Safetensors.load` (header length, JSON header, dtypes, shapes,
/// offsets that must tile the data). A file that loads must save and load back unchanged.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = FuzzInput.bytes(data, size)
    guard let loaded = try? Safetensors.load(FuzzInput.file(input)) else { return 0 }
    guard (try? Safetensors.save(loaded.tensors, metadata: loaded.metadata, to: FuzzInput.scratchPath)) != nil else { return 0 }
    guard let again = try? Safetensors.load(FuzzInput.scratchPath) else { fatalError("a saved safetensors file does not load") }
    if again.metadata != loaded.metadata { fatalError("metadata changed in a save and load") }
    let before = Dictionary(loaded.tensors.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
    let after = Dictionary(again.tensors.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
    if before.count != loaded.tensors.count { fatalError("a file with a duplicate tensor name was accepted") }
    guard before.count == after.count else { fatalError("tensor count changed in a save and load") }
    for (name, tensor) in before {
        guard let other = after[name], other.shape == tensor.shape,
              other.data.map(\.bitPattern) == tensor.data.map(\.bitPattern) else { fatalError("tensor '\(name)' changed in a save and load") }
    }
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzSafetensorsInit(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    FuzzInput.writeSeedsIfAsked(safetensorsSeeds)
    return 0
}

/// The repository's safetensors fixtures (written by PyTorch's safetensors, every dtype) and
/// one written by `Safetensors.save` with metadata.
func safetensorsSeeds() throws -> [(name: String, bytes: [UInt8])] {
    let fixtures = "Tests/CohortCheckpointTests/Fixtures/"
    var seeds: [(name: String, bytes: [UInt8])] = [("dtypes", FuzzInput.read(fixtures + "dtypes.safetensors")), ("model", FuzzInput.read(fixtures + "model.safetensors"))]
    try Safetensors.save([("w", Tensor(shape: [2, 3], data: [1, -2, 3.5, 0, 1e-8, 6])), ("b", Tensor(shape: [3], data: [0, 1, 2]))],
                         metadata: ["format": "pt"], to: FuzzInput.scratchPath)
    seeds.append(("cohort-saved", FuzzInput.read(FuzzInput.scratchPath)))
    return seeds
}
