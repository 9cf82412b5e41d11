/// Published architectures written as Cohort graphs whose parameter names equal the
/// PyTorch `state_dict` names of torchvision (ResNet, DenseNet, MobileNetV2) and timm (ViT),
/// so their weights import without a name map.
public enum ModelPreset: String, CaseIterable, Sendable {
    case resnet18, resnet50, densenet121
    case mobilenetV2 = "mobilenet_v2"
    case vitTiny = "vit-tiny"

    /// The preset called `name`, or an error listing the presets.
    public static func named(_ name: String) throws -> ModelPreset {
        guard let preset = ModelPreset(rawValue: name) else {
            throw ModelSpecError("unknown preset '\(name)'; presets: \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return preset
    }

    /// The node replaced when the head is replaced (`fc`, `classifier.1`, `head`, ...).
    public var headNode: String {
        switch self {
        case .resnet18, .resnet50: return "fc"
        case .densenet121: return "classifier"
        case .mobilenetV2: return "classifier.1"
        case .vitTiny: return "head"
        }
    }

    /// The node whose output is the pooled feature vector (the feature-extraction cut).
    public var featureNode: String {
        switch self {
        case .resnet18, .resnet50, .densenet121, .mobilenetV2: return "avgpool"
        case .vitTiny: return "pool"
        }
    }

    /// The model description for `options`; knobs are checked before the graph is written.
    public func spec(_ options: PresetOptions) throws -> ModelSpec {
        func positive(_ value: Int?, _ name: String, _ def: Int, max: Int = 1 << 16) throws -> Int {
            let v = value ?? def
            guard v >= 1 && v <= max else { throw ModelSpecError("preset \(rawValue): '\(name)' must be in 1...\(max), got \(v)") }
            return v
        }
        let s = options.inputShape
        guard s.count == 3, s.allSatisfy({ $0 >= 1 && $0 <= 1 << 16 }) else {
            throw ModelSpecError("preset \(rawValue): input must be [height, width, channels] with sizes in 1...65536, got \(s)")
        }
        guard options.classes >= 1 && options.classes <= 1 << 20 else {
            throw ModelSpecError("preset \(rawValue): classes must be in 1...\(1 << 20), got \(options.classes)")
        }
        let nodes: [LayerSpec]
        switch self {
        case .resnet18:
            nodes = ResNetPreset.nodes(blocks: [2, 2, 2, 2], bottleneck: false, width: try positive(options.width, "width", 64), classes: options.classes)
        case .resnet50:
            nodes = ResNetPreset.nodes(blocks: [3, 4, 6, 3], bottleneck: true, width: try positive(options.width, "width", 64), classes: options.classes)
        case .densenet121:
            nodes = DenseNetPreset.nodes(blocks: [6, 12, 24, 16], growth: try positive(options.growth, "growth", 32), classes: options.classes)
        case .mobilenetV2:
            let wm = options.widthMultiplier ?? 1
            guard wm > 0 && wm <= 64 else { throw ModelSpecError("preset \(rawValue): 'widthMultiplier' must be in (0, 64], got \(wm)") }
            let last = try positive(options.lastChannel, "lastChannel", MobileNetV2Preset.makeDivisible(1280 * max(1, wm)))
            nodes = MobileNetV2Preset.nodes(widthMultiplier: wm, lastChannel: last, classes: options.classes)
        case .vitTiny:
            let patch = try positive(options.patchSize, "patchSize", 16)
            guard s[0] % patch == 0 && s[1] % patch == 0 else {
                throw ModelSpecError("preset \(rawValue): 'patchSize' \(patch) must divide the input \(s[0])×\(s[1])")
            }
            let layout = options.attentionLayout ?? "timm"
            guard layout == "timm" || layout == "torch" else {
                throw ModelSpecError("preset \(rawValue): 'attentionLayout' must be timm or torch, got \(layout)")
            }
            let dim = try positive(options.embedDim, "embedDim", 192), heads = try positive(options.heads, "heads", 3)
            guard dim % heads == 0 else { throw ModelSpecError("preset \(rawValue): 'heads' \(heads) must divide 'embedDim' \(dim)") }
            nodes = ViTPreset.nodes(patch: patch, dim: dim, depth: try positive(options.depth, "depth", 12), heads: heads,
                                    mlpRatio: try positive(options.mlpRatio, "mlpRatio", 4), layout: layout, classes: options.classes)
        }
        return ModelSpec(inputShape: s, layers: nodes)
    }
}
