import CohortNN

extension TrainingPlan {
    /// The tensors that never leave a node: FedBN's BatchNorm tensors (affine parameters and
    /// running statistics) and, under `privacy`, every BatchNorm running statistic. Statistics
    /// are measured on the site's data; under DP they would have to share the update's clip
    /// norm, where they dominate it (protocols/privacy.md, "BatchNorm statistics"), so each node
    /// re-estimates its own for every model it receives instead. FedPer / FedRep add the
    /// tensors under `personalization.personalPrefixes`: they are personal and never sent.
    public func localTensorNames(of model: Sequential) -> Set<String> {
        var names: Set<String> = []
        if strategy == "fedbn" { names = FedBN.batchNormNames(of: model) }
        else if privacy != nil { names = Set(model.layers.compactMap { $0 as? BatchNorm }.flatMap { $0.buffers.map(\.name) }) }
        return names.union(personalTensorNames(of: model))
    }

    /// FedPer / FedRep's personal tensors of `model`: every parameter and buffer whose name is
    /// under one of `personalization.personalPrefixes` (empty for other plans).
    public func personalTensorNames(of model: Sequential) -> Set<String> {
        guard let p = personalization, p.keepsLayersPersonal else { return [] }
        return Set(model.stateDict().map(\.name).filter { name in p.personalPrefixes.contains { Sequential.name(name, hasPrefix: $0) } })
    }

    /// The tensors a node sends back each round: the parameters the plan trains
    /// (`trainablePrefixes`, and every LoRA factor) and the BatchNorm running statistics,
    /// minus `localTensorNames`. LoRA base weights never change and are never sent.
    public func sentTensorNames(of model: Sequential) -> Set<String> {
        let trained = model.parameters.filter { trains($0) && !$0.isLoRABase }
        return Set(trained.map(\.name)).union(model.buffers.map(\.name)).subtracting(localTensorNames(of: model))
    }

    /// Whether the plan trains `parameter`: a LoRA factor, or a name under `trainablePrefixes`
    /// (all names when nil).
    public func trains(_ parameter: Parameter) -> Bool {
        parameter.isAdapter || (trainablePrefixes.map { $0.contains { Sequential.name(parameter.name, hasPrefix: $0) } } ?? true)
    }
}
