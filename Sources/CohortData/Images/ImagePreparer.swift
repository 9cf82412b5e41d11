/// Brings a decoded image to a schema's size, colour and normalisation: bilinear resize
/// (pixel centres aligned, edges clamped), then `(value / 255 − mean[c]) / std[c]`, written
/// channels-last (`[height, width, channels]`) as float32.
public struct ImagePreparer: Sendable {
    public let preparation: ImageSchema.Preparation
    let mean: [Float]
    let inverseStd: [Float]

    public init(_ preparation: ImageSchema.Preparation) {
        self.preparation = preparation
        let c = preparation.channels.count
        mean = preparation.mean ?? [Float](repeating: 0, count: c)
        inverseStd = (preparation.std ?? [Float](repeating: 1, count: c)).map { 1 / $0 }
    }

    /// Values per prepared image.
    public var sampleWidth: Int { preparation.height * preparation.width * preparation.channels.count }

    /// Writes the prepared `image` (which must have the schema's channel count) into `out`
    /// (`sampleWidth` values).
    public func prepare(_ image: DecodedImage, into out: UnsafeMutableBufferPointer<Float>) {
        let c = preparation.channels.count
        precondition(image.channels == c && out.count == sampleWidth, "image channels or output size do not match the schema")
        let (oh, ow) = (preparation.height, preparation.width)
        let (ih, iw) = (image.height, image.width)
        let scaleY = Float(ih) / Float(oh), scaleX = Float(iw) / Float(ow)
        // Horizontal taps once per column.
        var x0 = [Int](repeating: 0, count: ow), x1 = [Int](repeating: 0, count: ow), fx = [Float](repeating: 0, count: ow)
        for x in 0..<ow {
            let sx = min(max((Float(x) + 0.5) * scaleX - 0.5, 0), Float(iw - 1))
            x0[x] = Int(sx); x1[x] = min(x0[x] + 1, iw - 1); fx[x] = sx - Float(x0[x])
        }
        image.pixels.withUnsafeBufferPointer { px in
            for y in 0..<oh {
                let sy = min(max((Float(y) + 0.5) * scaleY - 0.5, 0), Float(ih - 1))
                let y0 = Int(sy), y1 = min(Int(sy) + 1, ih - 1), fy = sy - Float(Int(sy))
                let row0 = y0 * iw * c, row1 = y1 * iw * c
                for x in 0..<ow {
                    let a = x0[x] * c, b = x1[x] * c, f = fx[x]
                    for ch in 0..<c {
                        let top = Float(px[row0 + a + ch]) * (1 - f) + Float(px[row0 + b + ch]) * f
                        let bottom = Float(px[row1 + a + ch]) * (1 - f) + Float(px[row1 + b + ch]) * f
                        let v = (top * (1 - fy) + bottom * fy) / 255
                        out[(y * ow + x) * c + ch] = (v - mean[ch]) * inverseStd[ch]
                    }
                }
            }
        }
    }
}
