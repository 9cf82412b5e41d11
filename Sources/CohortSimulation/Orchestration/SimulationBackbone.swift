import CohortNN

/// A published architecture (`cohort simulate --model PRESET`) trained and federated in place
/// of the small CNN, with the reduced sizes that keep a run to minutes and the LoRA
/// configuration of the `fedavg-lora` arm.
struct SimulationBackbone {
    let preset: ModelPreset
    /// The size knobs used: the config's, or `reducedDefaults` when it names none.
    let knobs: PresetKnobs

    init(name: String, knobs: PresetKnobs?) throws {
        do { preset = try ModelPreset.named(name) } catch { throw SimulationError("model: \(error)") }
        self.knobs = knobs ?? Self.reducedDefaults(preset)
    }

    /// Reduced widths for the 1×32×32 scans (the published sizes would take hours per arm on
    /// two cores): ResNet stage-1 width 16, DenseNet growth 8, MobileNetV2 ×0.25, a 4-block
    /// ViT of width 64 on 4×4 patches.
    static func reducedDefaults(_ preset: ModelPreset) -> PresetKnobs {
        var k = PresetKnobs()
        switch preset {
        case .resnet18, .resnet50: k.width = 16
        case .densenet121: k.growth = 8
        case .mobilenetV2: k.widthMultiplier = 0.25; k.lastChannel = 128
        case .vitTiny: k.patchSize = 4; k.embedDim = 64; k.depth = 4; k.heads = 2
        }
        return k
    }

    /// The model description for `classes` outputs on `inputShape` samples.
    func spec(classes: Int, inputShape: [Int]) throws -> ModelSpec {
        var options = PresetOptions(classes: classes, inputShape: inputShape)
        knobs.apply(to: &options)
        do { return try preset.spec(options) } catch { throw SimulationError("model \(preset.rawValue) \(knobs.summary): \(error)") }
    }

    /// Node-name patterns LoRA adapts by default: the convolutions of the residual / dense /
    /// inverted-residual blocks, or a ViT's attention and MLP projections.
    var defaultLoRATargets: [String] {
        switch preset {
        case .resnet18, .resnet50: return ["layer*.conv*"]
        case .densenet121: return ["features.denseblock*.conv*"]
        case .mobilenetV2: return ["features.*.conv.*"]
        case .vitTiny: return ["blocks.*.attn", "blocks.*.mlp.fc*"]
        }
    }

    /// How the report names the model.
    var label: String { "\(preset.rawValue) \(knobs.summary)" }
}
