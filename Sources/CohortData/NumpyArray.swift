import CohortTensor

/// An n-dimensional array read from a `.npy` file or a `.npz` entry, its elements converted
/// to `Float` in C (row-major) order.
public struct NumpyArray: Sendable, Equatable {
    /// The dimensions (empty for a 0-d array).
    public var shape: [Int]
    /// The elements, `shape.product` of them, in C order.
    public var values: [Float]
    /// The element type stored in the file (the values were converted from it).
    public var dtype: NumpyDType

    /// An array of the given parts; `values.count` must equal the product of `shape`.
    public init(shape: [Int], values: [Float], dtype: NumpyDType = .float32) {
        self.shape = shape
        self.values = values
        self.dtype = dtype
    }

    /// The array as a tensor of the same shape (`[1]` for a 0-d array).
    public var tensor: Tensor { Tensor(shape: shape.isEmpty ? [1] : shape, data: values) }
}
