/// What one `TargetAdaptation.run` did and measured; `cohort adapt --json` prints it and the
/// adapted checkpoint's metadata records it.
public struct AdaptationSummary: Codable, Sendable, Equatable {
    public var method: AdaptationMethod
    /// Target rows the method saw as inputs (labelled or not; labels unused unless stated).
    public var targetRows: Int
    /// Labelled target rows the method used (prototypes); 0 for the label-free methods.
    public var supportRows: Int
    /// Labelled source rows used (DANN, CORAL, MMD).
    public var sourceRows: Int?
    public var epochs: Int
    public var learningRate: Float?
    /// Predictions on the target rows before and after.
    public var before: PredictionStatistics
    public var after: PredictionStatistics
    /// Labelled target rows held out from adaptation that the accuracies are measured on (0: none).
    public var validationRows: Int
    public var accuracyBefore: Double?
    public var accuracyAfter: Double?
    /// The tensors whose values changed, in model order.
    public var changedTensors: [String]
    /// Per-epoch loss: TENT entropy, SHOT information maximisation, DANN domain-classifier
    /// loss, CORAL or MMD alignment loss.
    public var lossHistory: [Double]
    /// The negative-transfer guard's choice, when it ran.
    public var guardReport: NegativeTransferReport?
    public var seconds: Double = 0

    public init(method: AdaptationMethod, targetRows: Int, supportRows: Int, sourceRows: Int?, epochs: Int, learningRate: Float?,
                before: PredictionStatistics, after: PredictionStatistics, validationRows: Int, accuracyBefore: Double?,
                accuracyAfter: Double?, changedTensors: [String], lossHistory: [Double], guardReport: NegativeTransferReport? = nil) {
        self.method = method; self.targetRows = targetRows; self.supportRows = supportRows; self.sourceRows = sourceRows
        self.epochs = epochs; self.learningRate = learningRate; self.before = before; self.after = after
        self.validationRows = validationRows; self.accuracyBefore = accuracyBefore; self.accuracyAfter = accuracyAfter
        self.changedTensors = changedTensors; self.lossHistory = lossHistory; self.guardReport = guardReport
    }
}
