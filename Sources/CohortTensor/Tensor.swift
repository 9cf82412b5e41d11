/// A dense float32 tensor: a shape and contiguous row-major storage.
///
/// Images are stored channels-last (NHWC): a batch of 1-channel 28×28 scans has shape
/// `[n, 28, 28, 1]`. Value semantics come from the backing `[Float]` (copy on write).
public struct Tensor: Equatable, Sendable {
    /// Extent of each dimension, outermost first.
    public private(set) var shape: [Int]
    /// The elements in row-major order; `data.count == shape.product`.
    public var data: [Float]

    /// A tensor over existing storage. Precondition: `data.count` equals the product of `shape`.
    public init(shape: [Int], data: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor shape \(shape) has a negative dimension")
        precondition(shape.reduce(1, *) == data.count,
                     "Tensor shape \(shape) needs \(shape.reduce(1, *)) elements, got \(data.count)")
        self.shape = shape
        self.data = data
    }

    /// A tensor of the given shape with every element equal to `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        self.init(shape: shape, data: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    /// A tensor of zeros.
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape) }

    /// Number of elements.
    @inlinable public var count: Int { data.count }
    /// Number of dimensions.
    public var rank: Int { shape.count }
    /// Size of the leading (batch) dimension; 1 for a scalar.
    public var rows: Int { shape.first ?? 1 }
    /// Elements per row (everything but the leading dimension).
    public var columns: Int { shape.count <= 1 ? 1 : shape.dropFirst().reduce(1, *) }

    /// The same elements under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, data: data)
    }

    /// Changes the shape in place; the element count must not change.
    public mutating func reshape(_ newShape: [Int]) {
        precondition(newShape.reduce(1, *) == data.count,
                     "cannot reshape \(shape) (\(data.count) elements) to \(newShape)")
        shape = newShape
    }

    /// Element at a multi-dimensional index (slow path, for tests and small code).
    public subscript(_ index: Int...) -> Float {
        get { data[flatIndex(index)] }
        set { data[flatIndex(index)] = newValue }
    }

    private func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "index \(index) does not match rank \(shape.count)")
        var flat = 0
        for (i, d) in zip(index, shape) {
            precondition(i >= 0 && i < d, "index \(index) out of range for shape \(shape)")
            flat = flat * d + i
        }
        return flat
    }

    /// Rows `range` of the leading dimension, copied.
    public func rows(_ range: Range<Int>) -> Tensor {
        let stride = count / max(rows, 1)
        var newShape = shape
        newShape[0] = range.count
        return Tensor(shape: newShape, data: Array(data[(range.lowerBound * stride)..<(range.upperBound * stride)]))
    }

    /// Rows at the given indices of the leading dimension, in that order (a gather).
    public func gatherRows(_ indices: some Collection<Int>) -> Tensor {
        let stride = count / max(rows, 1)
        var newShape = shape
        newShape[0] = indices.count
        var out = [Float](repeating: 0, count: indices.count * stride)
        out.withUnsafeMutableBufferPointer { dst in
            data.withUnsafeBufferPointer { src in
                var o = 0
                for i in indices {
                    precondition(i >= 0 && i < rows, "row \(i) out of range 0..<\(rows)")
                    dst.baseAddress!.advanced(by: o).update(from: src.baseAddress!.advanced(by: i * stride), count: stride)
                    o += stride
                }
            }
        }
        return Tensor(shape: newShape, data: out)
    }

    /// True when every element is finite (no NaN, no infinity).
    public var isFinite: Bool {
        data.withUnsafeBufferPointer { VectorKernels.allFinite($0) }
    }
}

extension Array where Element == Float {
    /// An array of `count` floats whose contents are undefined: for buffers a kernel overwrites
    /// completely (a GEMM with beta 0, a pooling output), to skip a useless zero-fill.
    @inlinable
    public static func uninitialized(count: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
    }
}
