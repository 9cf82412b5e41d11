/// torchvision's MobileNetV2 (inverted residuals, ReLU6, depthwise 3×3 convolutions).
enum MobileNetV2Preset {
    /// torchvision's `_make_divisible(v, 8)`: the nearest multiple of 8, never 10% below `v`.
    static func makeDivisible(_ v: Double, _ divisor: Int = 8) -> Int {
        var new = max(divisor, Int(v + Double(divisor) / 2) / divisor * divisor)
        if Double(new) < 0.9 * v { new += divisor }
        return new
    }

    static let settings: [(t: Int, c: Int, n: Int, s: Int)] = [
        (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
    ]

    static func nodes(widthMultiplier wm: Double, lastChannel: Int, classes: Int) -> [LayerSpec] {
        var g = GraphBuilder()
        var channels = makeDivisible(32 * wm)
        g.convNorm("features.0.0", "features.0.1", units: channels, kernel: 3, stride: 2, activation: (.relu6, "features.0.2"))
        var index = 1
        for (t, c, n, s) in settings {
            let out = makeDivisible(Double(c) * wm)
            for i in 0..<n {
                let p = "features.\(index).conv", stride = i == 0 ? s : 1
                let input = g.last, hidden = channels * t
                var k = 0
                if t != 1 {
                    g.convNorm("\(p).0.0", "\(p).0.1", units: hidden, kernel: 1, activation: (.relu6, "\(p).0.2"))
                    k = 1
                }
                g.convNorm("\(p).\(k).0", "\(p).\(k).1", units: hidden, kernel: 3, stride: stride, groups: hidden,
                           activation: (.relu6, "\(p).\(k).2"))
                g.convNorm("\(p).\(k + 1)", "\(p).\(k + 2)", units: out, kernel: 1)
                if stride == 1 && channels == out { g.add(LayerSpec(.add, name: "features.\(index).add"), inputs: [input, g.last]) }
                channels = out
                index += 1
            }
        }
        g.convNorm("features.\(index).0", "features.\(index).1", units: lastChannel, kernel: 1, activation: (.relu6, "features.\(index).2"))
        g.add(LayerSpec(.globalavgpool, name: "avgpool"))
        g.add(LayerSpec(.dropout, name: "classifier.0", rate: 0.2))
        g.add(LayerSpec(.dense, name: "classifier.1", units: classes))
        return g.nodes
    }
}
