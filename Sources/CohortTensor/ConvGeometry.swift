/// The sizes of one 2-D convolution or pooling over a channels-last (NHWC) batch.
///
/// Padding may differ per side (`padTop`, `padBottom`, `padLeft`, `padRight`) and the kernel
/// may be dilated (cells `dilation` apart). Only `padTop` and `padLeft` place the window;
/// `padBottom` and `padRight` only decide how many output rows and columns there are.
public struct ConvGeometry: Equatable, Sendable {
    public var batch: Int, height: Int, width: Int, channels: Int
    public var kernelHeight: Int, kernelWidth: Int, stride: Int
    public var padTop: Int, padBottom: Int, padLeft: Int, padRight: Int
    /// Distance between neighbouring kernel cells (1: a dense kernel).
    public var dilation: Int

    /// Geometry of a `kernelHeight×kernelWidth` window sliding with `stride` over an input
    /// zero-padded by `padding` on every side.
    public init(batch: Int, height: Int, width: Int, channels: Int,
                kernelHeight: Int, kernelWidth: Int, stride: Int = 1, padding: Int = 0) {
        self.init(batch: batch, height: height, width: width, channels: channels,
                  kernelHeight: kernelHeight, kernelWidth: kernelWidth, stride: stride,
                  pads: (padding, padding, padding, padding), dilation: 1)
    }

    /// Geometry with per-side padding `(top, bottom, left, right)` and a kernel `dilation`.
    /// Callers validate sizes from input first (`LayerCheck`); this only guards programmer errors.
    public init(batch: Int, height: Int, width: Int, channels: Int,
                kernelHeight: Int, kernelWidth: Int, stride: Int,
                pads: (top: Int, bottom: Int, left: Int, right: Int), dilation: Int) {
        precondition(kernelHeight > 0 && kernelWidth > 0 && stride > 0 && dilation > 0
                        && min(pads.top, pads.bottom, pads.left, pads.right) >= 0,
                     "convolution needs a positive kernel, stride and dilation and non-negative padding")
        self.batch = batch; self.height = height; self.width = width; self.channels = channels
        self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth
        self.stride = stride; self.dilation = dilation
        padTop = pads.top; padBottom = pads.bottom; padLeft = pads.left; padRight = pads.right
    }

    /// The padding when it is the same on every side (the top padding otherwise).
    public var padding: Int { padTop }
    /// True when every side has the same padding.
    public var isSymmetric: Bool { padTop == padBottom && padLeft == padRight && padTop == padLeft }
    /// Rows spanned by the (dilated) kernel.
    public var kernelSpanHeight: Int { dilation * (kernelHeight - 1) + 1 }
    /// Columns spanned by the (dilated) kernel.
    public var kernelSpanWidth: Int { dilation * (kernelWidth - 1) + 1 }

    public var outHeight: Int { (height + padTop + padBottom - kernelSpanHeight) / stride + 1 }
    public var outWidth: Int { (width + padLeft + padRight - kernelSpanWidth) / stride + 1 }
    /// Values in one input patch: `channels · kernelHeight · kernelWidth`.
    public var patchSize: Int { channels * kernelHeight * kernelWidth }
    /// Output positions over the whole batch: `batch · outHeight · outWidth`.
    public var outputPositions: Int { batch * outHeight * outWidth }
    /// True when the window fits in the padded input.
    public var isValid: Bool {
        height + padTop + padBottom >= kernelSpanHeight && width + padLeft + padRight >= kernelSpanWidth
    }
}
