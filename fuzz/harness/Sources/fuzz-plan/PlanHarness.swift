import CohortCheckpoint
import CohortFederation
import CohortNN
import Foundation
import FuzzSupport

/// A training plan as JSON (`TrainingPlan` decoding and `validate`, as the coordinator reads a
/// plan file and a node checks the plan it is sent), and the same bytes as a MODEL payload
/// (`RoundMessages.parse` of a `ModelHeader`, which carries the plan and the architecture).
/// A plan that validates must survive an encode and decode unchanged, give a usable codec,
/// and name tensors of a real model.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPlan(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = FuzzInput.bytes(data, size)
    if let plan = try? JSONDecoder().decode(TrainingPlan.self, from: Data(input)) { exercise(plan) }
    if let header = (try? RoundMessages.parse(input, as: RoundMessages.ModelHeader.self))?.header {
        exercise(header.plan)
        _ = try? Sequential.check(header.architecture, budget: ModelBudget(maxParameters: 1 << 16, maxValuesPerSample: 1 << 12))
    }
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzPlanInit(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    FuzzInput.writeSeedsIfAsked(planSeeds)
    return 0
}

/// A dense model the plan's tensor rules are applied to.
nonisolated(unsafe) let planModel: Sequential? = (try? ModelFixtures.specs()).flatMap { specs in try? Sequential(spec: specs[0].spec, seed: 1) }

func exercise(_ plan: TrainingPlan) {
    guard (try? plan.validate()) != nil else { return }
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    guard let json = try? encoder.encode(plan), let back = try? JSONDecoder().decode(TrainingPlan.self, from: json) else {
        fatalError("a valid plan does not encode and decode")
    }
    guard (try? encoder.encode(back)) == json else { fatalError("a valid plan changes in an encode and decode") }
    guard (try? DeltaEncoder(config: plan.codec)) != nil else { fatalError("a valid plan's codec is refused by the encoder") }
    _ = plan.codec.sentCount(of: 1000)
    if let planModel {
        _ = plan.localTensorNames(of: planModel)
        _ = plan.personalTensorNames(of: planModel)
        _ = plan.sentTensorNames(of: planModel)
    }
}

/// The repository's plan files, plans written by `JSONEncoder` with every optional part, and
/// a MODEL payload header as the coordinator writes it.
func planSeeds() throws -> [(name: String, bytes: [UInt8])] {
    var seeds: [(name: String, bytes: [UInt8])] = [("cluster-plan", FuzzInput.read("cluster/local/plan.json"))]
    for arm in ["ditto", "fedavg", "fedrep", "fedavg-ft"] {
        seeds.append(("penguins-\(arm)", FuzzInput.read("scripts/penguins-arms/\(arm).json")))
    }
    var secure = TrainingPlan()
    secure.secureAggregation = SecureAggregationPlan(threshold: 2)
    secure.recordPrivacy = RecordPrivacyPlan(noiseMultiplier: 1.1)
    var coded = TrainingPlan()
    coded.codec = DeltaCodecConfig(topKFraction: 0.1, quantization: .int8(blockSize: 64), zlibLevel: 1)
    coded.trainablePrefixes = ["head"]
    coded.strategy = "fedprox"
    coded.proximalMu = 0.01
    for (name, plan) in [("default", TrainingPlan()), ("secure-dpsgd", secure), ("codec", coded)] {
        seeds.append((name, [UInt8](try JSONEncoder().encode(plan))))
    }
    let handWritten = [
        ("privacy", #"{"strategy": "fedavg", "privacy": {"clipNorm": 1, "noiseMultiplier": 1.0, "delta": 1e-5}}"#),
        ("screening", #"{"strategy": "median", "screening": {"maxNorm": 5.0, "maxNormMultiple": 10, "maxSamples": 1000, "action": "reject"}}"#),
        ("adaptation", #"{"strategy": "fedbn", "adaptation": {"method": "adabn", "guard": true}}"#),
    ]
    seeds += handWritten.map { ($0.0, Array($0.1.utf8)) }
    let header = RoundMessages.ModelHeader(round: 1, modelVersion: 1, plan: coded, architecture: try ModelFixtures.specs()[0].spec)
    seeds.append(("model-header", try RoundMessages.payload(header, body: [])))
    return seeds
}
