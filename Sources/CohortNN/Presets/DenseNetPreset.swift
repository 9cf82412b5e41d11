/// torchvision's DenseNet (bottleneck size 4, compression 0.5, stem of twice the growth rate).
enum DenseNetPreset {
    static func nodes(blocks: [Int], growth: Int, classes: Int) -> [LayerSpec] {
        var g = GraphBuilder()
        var channels = 2 * growth
        g.convNorm("features.conv0", "features.norm0", units: channels, kernel: 7, stride: 2, padding: 3, activation: (.relu, "features.relu0"))
        g.add(LayerSpec(.maxpool2d, name: "features.pool0", kernel: 3, stride: 2, padding: 1))
        for (i, count) in blocks.enumerated() {
            for j in 1...count {
                let p = "features.denseblock\(i + 1).denselayer\(j)"
                let input = g.last
                g.add(LayerSpec(.batchnorm2d, name: "\(p).norm1"))
                g.add(LayerSpec(.relu, name: "\(p).relu1"))
                g.add(LayerSpec(.conv2d, name: "\(p).conv1", units: 4 * growth, kernel: 1, bias: false))
                g.add(LayerSpec(.batchnorm2d, name: "\(p).norm2"))
                g.add(LayerSpec(.relu, name: "\(p).relu2"))
                g.add(LayerSpec(.conv2d, name: "\(p).conv2", units: growth, kernel: 3, padding: 1, bias: false))
                g.add(LayerSpec(.concat, name: "\(p).concat"), inputs: [input, g.last])
                channels += growth
            }
            if i < blocks.count - 1 {
                let t = "features.transition\(i + 1)"
                channels /= 2
                g.add(LayerSpec(.batchnorm2d, name: "\(t).norm"))
                g.add(LayerSpec(.relu, name: "\(t).relu"))
                g.add(LayerSpec(.conv2d, name: "\(t).conv", units: channels, kernel: 1, bias: false))
                g.add(LayerSpec(.avgpool2d, name: "\(t).pool", kernel: 2, stride: 2))
            }
        }
        g.add(LayerSpec(.batchnorm2d, name: "features.norm5"))
        g.add(LayerSpec(.relu, name: "features.relu5"))
        g.add(LayerSpec(.globalavgpool, name: "avgpool"))
        g.add(LayerSpec(.dense, name: "classifier", units: classes))
        return g.nodes
    }
}
