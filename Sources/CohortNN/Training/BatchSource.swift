import CohortTensor

/// Labelled samples that training reads one batch at a time, so they need not all be in
/// memory: `LabelledData` is one; a folder of images decoded per batch is another.
public protocol BatchSource {
    /// Number of samples.
    var count: Int { get }
    /// The samples at `indices` (each in `0..<count`), in that order.
    func batch(_ indices: ArraySlice<Int>) throws -> LabelledData
}

extension LabelledData: BatchSource {
    public func batch(_ indices: ArraySlice<Int>) throws -> LabelledData { subset(indices) }
}
