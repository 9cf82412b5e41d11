import CohortNN

extension Checkpoint {
    /// This checkpoint with LoRA factors `lora` added to its model (A seeded by `seed`, B zero,
    /// so the model's outputs are unchanged). A checkpoint that already has this configuration
    /// is returned as it is; one with another configuration is an error.
    public func addingLoRA(_ lora: LoRASpec, seed: UInt64, path: String = "checkpoint") throws -> Checkpoint {
        guard var spec = architecture else { throw CheckpointError.mismatch(path: path, problems: ["no architecture stored"]) }
        if let existing = spec.lora {
            guard existing == lora else {
                throw CheckpointError.mismatch(path: path, problems: ["the model already has another LoRA configuration (\(existing.targets))"])
            }
            return self
        }
        spec.lora = lora
        spec.version = 2
        let model: Sequential
        do {
            model = try Sequential(spec: spec, seed: seed)
            try model.load(stateDictionary, strict: false)
        } catch { throw CheckpointError.mismatch(path: path, problems: ["\(error)"]) }
        var meta = metadata
        meta.history.append("added LoRA rank \(lora.rank) on \(lora.targets.joined(separator: ", "))")
        return Checkpoint(architecture: spec, metadata: meta, tensors: model.stateDict())
    }

    /// This checkpoint with every LoRA update merged into its weights and no factors left
    /// (what `cohort export --merge-lora` writes); unchanged when it has no LoRA.
    public func mergingLoRA(path: String = "checkpoint") throws -> Checkpoint {
        guard architecture?.lora != nil else { return self }
        let (spec, state) = try makeModel(path: path).mergedState()
        var meta = metadata
        meta.history.append("merged LoRA factors into the base weights")
        return Checkpoint(architecture: spec, metadata: meta, tensors: state)
    }
}
