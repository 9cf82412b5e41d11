import CohortNN

/// The small model the negative-transfer guard trains from scratch at a site: whatever the
/// incoming model is, the guard's baseline stays cheap to train on a site's few labels.
public enum ScratchModel {
    /// For images (`[H, W, C]` inputs): conv 8 → BatchNorm → ReLU → max-pool 2 → conv 16 →
    /// BatchNorm → ReLU → global average pool → dense. For flat inputs: dense 32 → ReLU → dense.
    public static func spec(inputShape: [Int], classes: Int) -> ModelSpec {
        if inputShape.count == 3 {
            return ModelSpec(inputShape: inputShape, layers: [
                LayerSpec(.conv2d, name: "scratch.0", units: 8, kernel: 3, padding: 1),
                LayerSpec(.batchnorm2d, name: "scratch.1"),
                LayerSpec(.relu, name: "scratch.2"),
                LayerSpec(.maxpool2d, name: "scratch.3", kernel: 2),
                LayerSpec(.conv2d, name: "scratch.4", units: 16, kernel: 3, padding: 1),
                LayerSpec(.batchnorm2d, name: "scratch.5"),
                LayerSpec(.relu, name: "scratch.6"),
                LayerSpec(.globalavgpool, name: "scratch.7"),
                LayerSpec(.dense, name: "scratch.head", units: classes),
            ])
        }
        var layers: [LayerSpec] = inputShape.count > 1 ? [LayerSpec(.flatten, name: "scratch.flatten")] : []
        layers += [LayerSpec(.dense, name: "scratch.0", units: 32), LayerSpec(.relu, name: "scratch.1"),
                   LayerSpec(.dense, name: "scratch.head", units: classes)]
        return ModelSpec(inputShape: inputShape, layers: layers)
    }

    /// A freshly initialised `spec(inputShape:classes:)` model.
    public static func make(inputShape: [Int], classes: Int, seed: UInt64) throws -> Sequential {
        try Sequential(spec: spec(inputShape: inputShape, classes: classes), seed: seed)
    }
}
