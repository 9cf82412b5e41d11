/// The settings of a preset: the task (classes, input) and the size knobs of its family.
/// Knobs left nil take the published model's value (`protocols/model-description.md`).
public struct PresetOptions: Codable, Equatable, Sendable {
    /// Output classes of the head.
    public var classes: Int
    /// Per-sample input `[height, width, channels]`.
    public var inputShape: [Int]
    /// ResNet: planes of the first stage (64).
    public var width: Int?
    /// DenseNet: growth rate (32); the stem has twice as many channels.
    public var growth: Int?
    /// MobileNetV2: width multiplier (1.0).
    public var widthMultiplier: Double?
    /// MobileNetV2: channels before the classifier (1280 × max(1, widthMultiplier)).
    public var lastChannel: Int?
    /// ViT: patch side (16), embedding width (192), blocks (12), heads (3), MLP ratio (4).
    public var patchSize: Int?
    public var embedDim: Int?
    public var depth: Int?
    public var heads: Int?
    public var mlpRatio: Int?
    /// ViT: attention weight names, `timm` (default) or `torch` (`nn.MultiheadAttention`).
    public var attentionLayout: String?

    /// Options for `classes` outputs on `inputShape` samples, every knob at its default.
    public init(classes: Int, inputShape: [Int]) {
        self.classes = classes
        self.inputShape = inputShape
    }
}
