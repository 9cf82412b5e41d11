/// The kinds of layer a model description can name.
public enum LayerKind: String, Codable, Sendable, CaseIterable {
    case dense, conv2d, maxpool2d, avgpool2d, globalavgpool
    case batchnorm1d, batchnorm2d, dropout
    case relu, leakyrelu, gelu, flatten, gradientreversal
}

/// A serialisable description of one layer: enough to rebuild it from a file alone.
///
/// Only the fields a kind uses are set; input sizes are inferred from the previous layer's
/// output shape (and checked when given).
public struct LayerSpec: Codable, Equatable, Sendable {
    public var kind: LayerKind
    /// Dotted name used as the prefix of its parameters, e.g. `features.0`.
    public var name: String
    /// Dense: output features. Conv2D: output channels.
    public var units: Int?
    /// Dense: input features; Conv2D: input channels (inferred when nil).
    public var inputs: Int?
    /// Conv2D / pooling window size.
    public var kernel: Int?
    public var stride: Int?
    public var padding: Int?
    /// Dense / Conv2D: whether there is a bias (default true).
    public var bias: Bool?
    /// Dropout probability.
    public var rate: Float?
    /// LeakyReLU negative slope.
    public var slope: Float?
    /// GradientReversal scale λ.
    public var lambda: Float?
    /// BatchNorm running-statistics momentum (default 0.1) and epsilon (default 1e-5).
    public var momentum: Float?
    public var epsilon: Float?

    /// A spec with just a kind and name; set the other fields as the kind needs.
    public init(_ kind: LayerKind, name: String, units: Int? = nil, inputs: Int? = nil, kernel: Int? = nil,
                stride: Int? = nil, padding: Int? = nil, bias: Bool? = nil, rate: Float? = nil,
                slope: Float? = nil, lambda: Float? = nil, momentum: Float? = nil, epsilon: Float? = nil) {
        self.kind = kind; self.name = name; self.units = units; self.inputs = inputs
        self.kernel = kernel; self.stride = stride; self.padding = padding; self.bias = bias
        self.rate = rate; self.slope = slope; self.lambda = lambda
        self.momentum = momentum; self.epsilon = epsilon
    }
}

/// An error in a model description, naming the layer and what is wrong with it.
public struct ModelSpecError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }

    static func layer(_ spec: LayerSpec, _ problem: String) -> ModelSpecError {
        ModelSpecError("layer '\(spec.name)' (\(spec.kind.rawValue)): \(problem)")
    }
}
