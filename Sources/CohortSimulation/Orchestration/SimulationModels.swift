import CohortNN

/// The architectures a simulation trains.
enum SimulationModels {
    /// A small CNN for 32×32 single-channel scans: three conv–BatchNorm–ReLU stages, global
    /// average pooling and a linear head. BatchNorm is what FedBN keeps local.
    static func imaging(classes: Int, inputShape: [Int]) -> ModelSpec {
        ModelSpec(inputShape: inputShape, layers: [
            LayerSpec(.conv2d, name: "features.0", units: 16, kernel: 3, padding: 1),
            LayerSpec(.batchnorm2d, name: "features.1"),
            LayerSpec(.relu, name: "features.2"),
            LayerSpec(.maxpool2d, name: "features.3", kernel: 2),
            LayerSpec(.conv2d, name: "features.4", units: 32, kernel: 3, padding: 1),
            LayerSpec(.batchnorm2d, name: "features.5"),
            LayerSpec(.relu, name: "features.6"),
            LayerSpec(.maxpool2d, name: "features.7", kernel: 2),
            LayerSpec(.conv2d, name: "features.8", units: 32, kernel: 3, padding: 1),
            LayerSpec(.batchnorm2d, name: "features.9"),
            LayerSpec(.relu, name: "features.10"),
            LayerSpec(.globalavgpool, name: "pool"),
            LayerSpec(.dense, name: "head", units: classes),
        ])
    }

    /// An MLP for tabular clinical features, with BatchNorm after the hidden layers.
    static func tabular(classes: Int, features: Int) -> ModelSpec {
        ModelSpec(inputShape: [features], layers: [
            LayerSpec(.dense, name: "body.0", units: 64),
            LayerSpec(.batchnorm1d, name: "body.1"),
            LayerSpec(.relu, name: "body.2"),
            LayerSpec(.dense, name: "body.3", units: 32),
            LayerSpec(.batchnorm1d, name: "body.4"),
            LayerSpec(.relu, name: "body.5"),
            LayerSpec(.dense, name: "head", units: classes),
        ])
    }
}
