import CohortNN
import CohortTensor
import Foundation
import FuzzSupport

/// A model description (`ModelSpec.decode`), checked against a small budget
/// (`Sequential.check`), built, and run forward on a batch of two zero samples. A description
/// that passes the check must build and run.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModel(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = FuzzInput.bytes(data, size)
    guard let spec = try? ModelSpec.decode(json: Data(input)) else { return 0 }
    let budget = ModelBudget(maxParameters: 1 << 16, maxValuesPerSample: 1 << 12)
    guard (try? Sequential.check(spec, budget: budget)) != nil else { return 0 }
    let model: Sequential
    do { model = try Sequential(spec: spec, seed: 1, budget: budget) } catch {
        fatalError("a description that passes the check does not build: \(error)")
    }
    let batch = Tensor(shape: [2] + spec.inputShape, repeating: 0)
    _ = model.forward(batch, mode: .evaluation)
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzModelInit(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    FuzzInput.writeSeedsIfAsked(modelSeeds)
    return 0
}

/// Small descriptions (dense, CNN, a version-2 graph) and the ViT and ResNet-18 presets' (narrowed), as `encodedJSON`
/// writes them.
func modelSeeds() throws -> [(name: String, bytes: [UInt8])] {
    var seeds: [(name: String, bytes: [UInt8])] = try ModelFixtures.specs().map { ($0.name, [UInt8]($0.spec.encodedJSON())) }
    var vit = PresetOptions(classes: 3, inputShape: [16, 16, 3])
    vit.patchSize = 8; vit.embedDim = 16; vit.depth = 1; vit.heads = 2
    seeds.append(("vit-small", [UInt8](try ModelPreset.vitTiny.spec(vit).encodedJSON())))
    var resnet = PresetOptions(classes: 3, inputShape: [16, 16, 3])
    resnet.width = 4
    seeds.append(("resnet18-small", [UInt8](try ModelPreset.resnet18.spec(resnet).encodedJSON())))
    return seeds
}
