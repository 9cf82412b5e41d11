import CohortNN
import CohortTensor

extension FederatedNode {
    /// In a plain round whose UPDATE streams as a dense float32 delta, moves the received
    /// global values of the tensors training will write (`GlobalSpill`) to a temporary file
    /// when they total at least `Config.spillGlobalAbove` bytes, and returns it: the delta is
    /// then read from the file as it is sent, and training holds the weights and the momentum
    /// but not a third model-sized buffer. Nil (everything stays in memory) for a small model
    /// and for every plan step that reads the global values during training or builds its
    /// delta another way: FedProx, DP-SGD, secure aggregation, codecs and central DP,
    /// personalization, local adaptation, error feedback, a test attack. When the file cannot be
    /// written (a full or missing directory), the values stay in memory and `note` says why.
    func spillGlobal(_ model: Sequential, global: inout [String: Tensor], keepLocal: Set<String>,
                     header: RoundMessages.ModelHeader) -> (file: GlobalSpill?, note: String?) {
        let plan = header.plan
        guard let threshold = config.spillGlobalAbove, streamsUpdate(plan), header.secureAggregation == nil,
              plan.proximalMu == 0, plan.recordPrivacy == nil,
              plan.personalization == nil, plan.adaptation == nil else { return (nil, nil) }
        // The site's own tensors (FedBN's) are not the received values: they stay.
        let names = model.parameters.filter { $0.isUpdated && !keepLocal.contains($0.name) && global[$0.name] != nil }.map(\.name)
        let bytes = names.reduce(0) { $0 + (global[$1]?.count ?? 0) * 4 }
        guard !names.isEmpty, bytes >= threshold else { return (nil, nil) }
        do {
            let file = try receivedGlobal.spill(names, from: &global, directory: config.spillDirectory)
            stageClock?.mark("received global written to its temporary file")
            return (file, nil)
        } catch {
            return (nil, "\(error); the received global model stays in memory this round (a third model-sized buffer)")
        }
    }
}
