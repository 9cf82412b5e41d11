/// The privacy arms of a simulation side by side with plain FedAvg: accuracy, the guarantee,
/// and what privacy cost (`cohort bench privacy`).
public struct PrivacyComparison: Codable, Sendable, Equatable {
    /// One arm's figures.
    public struct Arm: Codable, Sendable, Equatable {
        public var arm: String
        public var meanAccuracy: Double
        /// fedavg's mean accuracy minus this arm's (positive: privacy cost accuracy); nil without fedavg.
        public var accuracyCostVsFedAvg: Double?
        /// The guarantee (nil for arms without differential privacy).
        public var privacy: ArmPrivacy?
        public var rounds: Int
        public var bytesUp: Int
        public var wallSeconds: Double
    }

    /// The simulation's settings that matter for reading the figures.
    public var kind: String
    public var sites: Int
    public var rounds: Int
    public var quick: Bool
    public var arms: [Arm]

    /// The arms of `results` named in `names` (in that order) that completed.
    public init(_ results: SimulationResults, names: [String] = ["source-only", "fedavg", "fedavg-dp", "fedavg-secagg", "fedavg-secagg-dp"]) {
        kind = results.kind
        sites = results.sites.count
        rounds = results.rounds
        quick = results.quick
        let baseline = results.arms.first { $0.name == "fedavg" && $0.failed == nil }?.meanAccuracy
        arms = names.compactMap { name in
            guard let a = results.arms.first(where: { $0.name == name && $0.failed == nil }) else { return nil }
            return Arm(arm: a.name, meanAccuracy: a.meanAccuracy, accuracyCostVsFedAvg: baseline.map { $0 - a.meanAccuracy }, privacy: a.privacy,
                       rounds: a.rounds.count, bytesUp: a.bytesUp, wallSeconds: a.wallSeconds)
        }
    }
}
