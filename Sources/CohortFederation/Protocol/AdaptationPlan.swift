/// A plan's local adaptation step (`TrainingPlan.adaptation`): what nodes do with their
/// unlabelled (and labelled) inputs on top of supervised training, and whether they guard
/// against negative transfer. See protocols/wire.md, "Local adaptation".
public struct AdaptationPlan: Codable, Equatable, Sendable {
    /// The label-free step: `none` (only the guard), `adabn`, `tent` or `shot`.
    public var method = "adabn"
    /// `few-labels` (default): only nodes with fewer than `minLabels` labelled training rows
    /// adapt; `all`: every node.
    public var appliesTo = "few-labels"
    public var minLabels = 100
    /// TENT / SHOT: passes over the node's inputs, learning rate, batch size.
    public var epochs = 1
    public var learningRate: Float = 1e-3
    public var batchSize = 64
    /// The negative-transfer guard: every node scores the model it received, its trained and
    /// adapted model, and a small model trained from scratch on its own labels, on its
    /// validation split; the UPDATE metrics say which won and by how much, and the node keeps
    /// the winner for its final evaluation.
    public var negativeTransferGuard = false
    /// Epochs of the guard's from-scratch model (trained once per node and reused).
    public var guardEpochs = 20

    /// The label-free steps a plan may name.
    public static let methods = ["none", "adabn", "tent", "shot"]

    public init(method: String = "adabn", appliesTo: String = "few-labels", negativeTransferGuard: Bool = false) {
        self.method = method
        self.appliesTo = appliesTo
        self.negativeTransferGuard = negativeTransferGuard
    }

    private enum CodingKeys: String, CodingKey {
        case method, appliesTo, minLabels, epochs, learningRate, batchSize, negativeTransferGuard = "guard", guardEpochs
    }

    /// Decodes the step; any field left out keeps its default.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = AdaptationPlan()
        method = try c.decodeIfPresent(String.self, forKey: .method) ?? d.method
        appliesTo = try c.decodeIfPresent(String.self, forKey: .appliesTo) ?? d.appliesTo
        minLabels = try c.decodeIfPresent(Int.self, forKey: .minLabels) ?? d.minLabels
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs) ?? d.epochs
        learningRate = try c.decodeIfPresent(Float.self, forKey: .learningRate) ?? d.learningRate
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
        negativeTransferGuard = try c.decodeIfPresent(Bool.self, forKey: .negativeTransferGuard) ?? d.negativeTransferGuard
        guardEpochs = try c.decodeIfPresent(Int.self, forKey: .guardEpochs) ?? d.guardEpochs
    }

    /// Whether a node with `labelledRows` labelled training rows runs the step.
    public func applies(labelledRows: Int) -> Bool {
        method != "none" && (appliesTo == "all" || labelledRows < minLabels)
    }

    /// Checks the step; errors name the field.
    public func validate() throws {
        func fail(_ s: String) -> AggregationError { AggregationError("plan: adaptation.\(s)") }
        guard Self.methods.contains(method) else {
            throw fail("method must be one of \(Self.methods.joined(separator: ", ")), got '\(method)'")
        }
        guard ["few-labels", "all"].contains(appliesTo) else { throw fail("appliesTo must be few-labels or all, got '\(appliesTo)'") }
        guard minLabels >= 0 else { throw fail("minLabels must be ≥ 0, got \(minLabels)") }
        guard epochs >= 1 && epochs <= 10_000 else { throw fail("epochs must be in 1...10000, got \(epochs)") }
        guard learningRate > 0, learningRate.isFinite else { throw fail("learningRate must be positive, got \(learningRate)") }
        guard batchSize >= 2 else { throw fail("batchSize must be ≥ 2, got \(batchSize)") }
        guard guardEpochs >= 1 && guardEpochs <= 10_000 else { throw fail("guardEpochs must be in 1...10000, got \(guardEpochs)") }
        guard method != "none" || negativeTransferGuard else { throw fail("method 'none' without the guard does nothing: name a method or set guard") }
    }
}
