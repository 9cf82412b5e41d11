import CohortCheckpoint
import CohortNN
import CohortTensor
import Foundation
import FuzzSupport

/// A checkpoint file: `CheckpointFile.load` (magic, header JSON, records, storage types,
/// zlib, SHA-256), then `makeModel` for a model small enough to build in the fuzzer. Each
/// input is tried as written and with its SHA-256 trailer recomputed.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpoint(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = FuzzInput.bytes(data, size)
    for bytes in [input, Checksums.withSHA256Trailer(input)].compactMap({ $0 }) {
        guard let checkpoint = try? CheckpointFile.load(FuzzInput.file(bytes)) else { continue }
        // `makeModel` allocates the declared model before loading tensors into it (bounded by
        // the machine's memory, by design); build only small ones here.
        if let architecture = checkpoint.architecture,
           (try? Sequential.check(architecture, budget: ModelBudget(maxParameters: 1 << 20, maxValuesPerSample: 1 << 20))) != nil {
            _ = try? checkpoint.makeModel()
        }
    }
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzCheckpointInit(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    FuzzInput.writeSeedsIfAsked(checkpointSeeds)
    return 0
}

/// Checkpoints written by `CheckpointFile.save` in every storage type, with and without zlib.
func checkpointSeeds() throws -> [(name: String, bytes: [UInt8])] {
    var seeds: [(name: String, bytes: [UInt8])] = []
    let options: [(String, CheckpointFile.WriteOptions)] = [
        ("f32", .init()), ("f16", .init(storage: .float16)), ("int8", .init(storage: .int8(blockSize: 4))),
        ("f32-zlib", .init(zlibLevel: 6)),
    ]
    for (model, spec) in try ModelFixtures.specs() {
        let net = try Sequential(spec: spec, seed: 1)
        for (storage, option) in options where model == "dense" || storage == "f32" {
            let metadata = CheckpointMetadata(source: "fuzz seed", history: ["init"], metrics: ["accuracy": 0.5],
                                              created: Date(timeIntervalSince1970: 0))
            try CheckpointFile.save(model: net, metadata: metadata, to: FuzzInput.scratchPath, options: option)
            seeds.append(("\(model)-\(storage)", FuzzInput.read(FuzzInput.scratchPath)))
        }
    }
    return seeds
}
