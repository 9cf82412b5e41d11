/// The sizes of one 2-D convolution or pooling over a channels-last (NHWC) batch.
public struct ConvGeometry: Equatable, Sendable {
    public var batch: Int, height: Int, width: Int, channels: Int
    public var kernelHeight: Int, kernelWidth: Int, stride: Int, padding: Int

    /// Geometry of a `kernelHeight×kernelWidth` window sliding with `stride` over an input
    /// zero-padded by `padding` on every side.
    public init(batch: Int, height: Int, width: Int, channels: Int,
                kernelHeight: Int, kernelWidth: Int, stride: Int = 1, padding: Int = 0) {
        precondition(kernelHeight > 0 && kernelWidth > 0 && stride > 0 && padding >= 0,
                     "convolution needs a positive kernel and stride and non-negative padding")
        self.batch = batch; self.height = height; self.width = width; self.channels = channels
        self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth
        self.stride = stride; self.padding = padding
    }

    public var outHeight: Int { (height + 2 * padding - kernelHeight) / stride + 1 }
    public var outWidth: Int { (width + 2 * padding - kernelWidth) / stride + 1 }
    /// Values in one input patch: `channels · kernelHeight · kernelWidth`.
    public var patchSize: Int { channels * kernelHeight * kernelWidth }
    /// Output positions over the whole batch: `batch · outHeight · outWidth`.
    public var outputPositions: Int { batch * outHeight * outWidth }
    /// True when the window fits in the padded input.
    public var isValid: Bool { height + 2 * padding >= kernelHeight && width + 2 * padding >= kernelWidth }
}
