import CohortTensor

extension SiteData {
    /// Every sample's inputs, labelled rows first, then the unlabelled ones: `[count, features]`
    /// (what label-free adaptation and shift measurement use).
    public var allInputs: Tensor {
        Tensor(shape: [count, features], data: labelled.inputs.data + unlabelled.data)
    }
}
