/// torchvision's ResNet (v1.5: the stride sits on the 3×3 convolution of a bottleneck).
enum ResNetPreset {
    static func nodes(blocks: [Int], bottleneck: Bool, width: Int, classes: Int) -> [LayerSpec] {
        var g = GraphBuilder()
        g.convNorm("conv1", "bn1", units: width, kernel: 7, stride: 2, padding: 3, activation: (.relu, "relu"))
        g.add(LayerSpec(.maxpool2d, name: "maxpool", kernel: 3, stride: 2, padding: 1))
        let expansion = bottleneck ? 4 : 1
        var channels = width
        for (stage, count) in blocks.enumerated() {
            let planes = width << stage
            for b in 0..<count {
                let p = "layer\(stage + 1).\(b)", stride = (b == 0 && stage > 0) ? 2 : 1
                let input = g.last
                if bottleneck {
                    g.convNorm("\(p).conv1", "\(p).bn1", units: planes, kernel: 1, activation: (.relu, "\(p).relu1"))
                    g.convNorm("\(p).conv2", "\(p).bn2", units: planes, kernel: 3, stride: stride, activation: (.relu, "\(p).relu2"))
                    g.convNorm("\(p).conv3", "\(p).bn3", units: planes * expansion, kernel: 1)
                } else {
                    g.convNorm("\(p).conv1", "\(p).bn1", units: planes, kernel: 3, stride: stride, activation: (.relu, "\(p).relu1"))
                    g.convNorm("\(p).conv2", "\(p).bn2", units: planes, kernel: 3)
                }
                let branch = g.last
                var shortcut = input
                if stride != 1 || channels != planes * expansion {
                    g.convNorm("\(p).downsample.0", "\(p).downsample.1", units: planes * expansion, kernel: 1, stride: stride, inputs: [input])
                    shortcut = g.last
                }
                g.add(LayerSpec(.add, name: "\(p).add"), inputs: [branch, shortcut])
                g.add(LayerSpec(.relu, name: "\(p).relu"))
                channels = planes * expansion
            }
        }
        g.add(LayerSpec(.globalavgpool, name: "avgpool"))
        g.add(LayerSpec(.dense, name: "fc", units: classes))
        return g.nodes
    }
}
