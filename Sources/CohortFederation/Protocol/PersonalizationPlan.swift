/// A plan's personalisation (`TrainingPlan.personalization`): how each site ends with a model
/// of its own beside the global one. See protocols/wire.md, "Personalisation".
///
/// - `fedavg-ft`: the global model trains as in FedAvg; at the end (and, with
///   `fineTuneEveryRound`, after every round for the report) each node fine-tunes a copy of the
///   global model on its own labels for up to `fineTuneEpochs` epochs and keeps the epoch
///   (0 = not fine-tuned) that scores best on its validation split.
/// - `ditto`: each node also trains a personal model, `personalEpochs` per round, on its loss
///   plus `lambda/2 · ‖w − w_global‖²` (Li et al. 2021); the global model trains as in FedAvg.
///   The personal model never leaves the site.
/// - `fedper` / `fedrep`: the tensors named by `personalPrefixes` (the head, or any prefix)
///   stay at each site and are never sent; the rest is federated. `fedper` trains all of them
///   together; `fedrep` first trains the personal tensors alone for `headEpochs` epochs, then
///   the shared ones alone for the plan's `localEpochs` (Collins et al. 2021).
public struct PersonalizationPlan: Codable, Equatable, Sendable {
    public var method = "fedavg-ft"
    /// fedper / fedrep: name prefixes of the tensors that stay personal.
    public var personalPrefixes: [String] = []
    /// ditto: the pull λ toward the global model.
    public var lambda: Float = 0.1
    /// ditto: personal epochs per round (nil: the plan's `localEpochs`).
    public var personalEpochs: Int? = nil
    /// fedrep: epochs of the personal tensors alone per round.
    public var headEpochs = 1
    /// fedavg-ft: the most fine-tuning epochs tried (the epoch kept is chosen on validation).
    public var fineTuneEpochs = 5
    /// fedavg-ft: learning rate of the fine-tuning (nil: the plan's).
    public var fineTuneLearningRate: Float? = nil
    /// fedavg-ft: also fine-tune a copy after every round, for the report only (UPDATE metrics
    /// `ft_val_accuracy`, `ft_test_accuracy`, `ft_epoch`); the update sent is unchanged.
    public var fineTuneEveryRound = false

    /// The methods a plan may name.
    public static let methods = ["fedavg-ft", "ditto", "fedper", "fedrep"]

    public init(method: String = "fedavg-ft", personalPrefixes: [String] = []) {
        self.method = method
        self.personalPrefixes = personalPrefixes
    }

    private enum CodingKeys: String, CodingKey {
        case method, personalPrefixes, lambda, personalEpochs, headEpochs, fineTuneEpochs, fineTuneLearningRate, fineTuneEveryRound
    }

    /// Decodes the section; any field left out keeps its default.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = PersonalizationPlan()
        method = try c.decodeIfPresent(String.self, forKey: .method) ?? d.method
        personalPrefixes = try c.decodeIfPresent([String].self, forKey: .personalPrefixes) ?? d.personalPrefixes
        lambda = try c.decodeIfPresent(Float.self, forKey: .lambda) ?? d.lambda
        personalEpochs = try c.decodeIfPresent(Int.self, forKey: .personalEpochs)
        headEpochs = try c.decodeIfPresent(Int.self, forKey: .headEpochs) ?? d.headEpochs
        fineTuneEpochs = try c.decodeIfPresent(Int.self, forKey: .fineTuneEpochs) ?? d.fineTuneEpochs
        fineTuneLearningRate = try c.decodeIfPresent(Float.self, forKey: .fineTuneLearningRate)
        fineTuneEveryRound = try c.decodeIfPresent(Bool.self, forKey: .fineTuneEveryRound) ?? d.fineTuneEveryRound
    }

    /// Whether the site's tensors named by `personalPrefixes` stay there (fedper, fedrep).
    public var keepsLayersPersonal: Bool { method == "fedper" || method == "fedrep" }

    /// Checks the section; errors name the field.
    public func validate() throws {
        func fail(_ s: String) -> AggregationError { AggregationError("plan: personalization.\(s)") }
        guard Self.methods.contains(method) else {
            throw fail("method must be one of \(Self.methods.joined(separator: ", ")), got '\(method)'")
        }
        if keepsLayersPersonal {
            guard !personalPrefixes.isEmpty, personalPrefixes.allSatisfy({ !$0.isEmpty }) else {
                throw fail("personalPrefixes must name at least one non-empty tensor name prefix for \(method) (e.g. [\"head\"])")
            }
        } else {
            guard personalPrefixes.isEmpty else { throw fail("personalPrefixes is only used by fedper and fedrep, not \(method)") }
        }
        guard lambda >= 0, lambda.isFinite else { throw fail("lambda must be finite and ≥ 0, got \(lambda)") }
        if let e = personalEpochs { guard e >= 1 && e <= 10_000 else { throw fail("personalEpochs must be in 1...10000, got \(e)") } }
        guard headEpochs >= 0 && headEpochs <= 10_000 else { throw fail("headEpochs must be in 0...10000, got \(headEpochs)") }
        guard fineTuneEpochs >= 1 && fineTuneEpochs <= 10_000 else { throw fail("fineTuneEpochs must be in 1...10000, got \(fineTuneEpochs)") }
        if let lr = fineTuneLearningRate { guard lr > 0, lr.isFinite else { throw fail("fineTuneLearningRate must be positive, got \(lr)") } }
    }
}
