import CohortNN

/// A plan step that needs every training sample in memory, asked of a node whose training
/// samples are streamed from disk (`FederatedNode.Config.trainSource`).
public struct StreamedTrainingError: Error, CustomStringConvertible {
    /// The node.
    public let node: String
    /// The plan section that cannot run on streamed data (`recordPrivacy`, `personalization`, `adaptation`).
    public let section: String
    public var description: String {
        "\(node): the plan's \(section) needs the training samples in memory, but this site streams them from disk "
            + "(an image folder or .npz); plain local training (FedAvg, FedProx, FedBN, codecs, secure aggregation, central or distributed DP) is supported"
    }
}

extension FederatedNode {
    /// Refuses a plan with a step that reads the whole training set from memory when the
    /// training samples are streamed.
    func checkStreamable(_ plan: TrainingPlan) throws {
        guard config.trainSource != nil else { return }
        if plan.recordPrivacy != nil { throw StreamedTrainingError(node: config.name, section: "recordPrivacy (DP-SGD)") }
        if plan.personalization != nil { throw StreamedTrainingError(node: config.name, section: "personalization") }
        if plan.adaptation != nil { throw StreamedTrainingError(node: config.name, section: "adaptation") }
    }
}
