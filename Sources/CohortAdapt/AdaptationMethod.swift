/// The adaptation methods `TargetAdaptation` (and `cohort adapt`) can run.
public enum AdaptationMethod: String, Codable, Sendable, CaseIterable {
    /// Re-estimate BatchNorm running statistics on the target (`AdaBN`). No labels, no gradient.
    case adabn
    /// Entropy minimisation on the BatchNorm affine parameters (`TENT`), then target statistics.
    case tent
    /// Source-free: frozen head, feature extractor trained by information maximisation and
    /// pseudo-labels (`SHOT`); BatchNorm statistics follow the target batches during training.
    case shot
    /// Domain-adversarial training on labelled source + unlabelled target (`DANN`).
    case dann
    /// Source cross-entropy + Deep CORAL between source and target features (`AlignmentTraining`).
    case coral
    /// Source cross-entropy + multi-kernel MMD between source and target features.
    case mmd
    /// The head becomes a nearest-prototype classifier built from the target's few labelled rows.
    case prototypes

    /// Whether the method needs labelled source data.
    public var needsSource: Bool { [.dann, .coral, .mmd].contains(self) }

    /// Whether the method needs labelled target rows (prototypes are built from them).
    public var needsTargetLabels: Bool { self == .prototypes }
}

/// An adaptation that cannot run, with what is wrong.
public struct AdaptationError: Error, CustomStringConvertible, Equatable {
    public let description: String
    /// An error with a message.
    public init(_ description: String) { self.description = description }
}
