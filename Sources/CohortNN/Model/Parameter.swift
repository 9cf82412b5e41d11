import CohortTensor

/// A trainable tensor with its gradient. Layers own parameters; optimizers update them.
public final class Parameter {
    /// Stable dotted name, e.g. `features.0.weight`.
    public let name: String
    /// Current value.
    public var value: Tensor { didSet { version &+= 1 } }
    /// Changes whenever `value` does (assignment or in-place mutation through `value`), so a
    /// layer can key a cache derived from the value (e.g. a permuted weight) on it.
    public private(set) var version = 0
    /// Gradient accumulated by backward passes since the last `zeroGrad()`. Zero until then;
    /// allocated on first use, so a model that is only built, loaded, saved or evaluated (model
    /// init, the coordinator, export) holds one copy of its weights instead of two. Written in
    /// place (`p.grad.data.withUnsafeMutableBufferPointer`, `p.grad.fill(0)`, a GEMM into
    /// `&p.grad.data`): never copied on write, as a `lazy var` (get, then set) would be, which
    /// held a second gradient-sized buffer at every write (issue 19).
    ///
    /// `zeroGrad()` does not write the buffer: it marks it as zeros, which the next access
    /// writes (`grad`), or which a layer that writes its whole gradient at once skips
    /// (`accumulateGradient`: a GEMM with beta 0 instead of a fill and a beta-1 GEMM that reads
    /// the zeros back; for a 1.2 GB weight, one pass over the buffer less per step).
    public var grad: Tensor {
        get {
            materializeGradient()
            return gradStorage!
        }
        set {
            gradStorage = newValue
            gradReadsAsZero = false
        }
        _modify {
            materializeGradient()
            yield &gradStorage!
        }
    }
    private var gradStorage: Tensor?
    /// The buffer's contents are stale: the gradient is zero (`zeroGrad`).
    private var gradReadsAsZero = false

    /// Allocates the gradient (zeros), or writes the zeros `zeroGrad` left pending.
    private func materializeGradient() {
        if gradStorage == nil {
            gradStorage = Tensor(shape: value.shape)
        } else if gradReadsAsZero {
            gradStorage!.fill(0)
        }
        gradReadsAsZero = false
    }

    /// Calls `body` with the gradient buffer to add one backward pass's gradient into, and
    /// whether the gradient is zero so far: then `body` must write every element (e.g. a GEMM
    /// with beta 0, which does not read the buffer) instead of adding to it.
    public func accumulateGradient(_ body: (_ buffer: inout Tensor, _ overwrite: Bool) -> Void) {
        let overwrite = gradStorage == nil || gradReadsAsZero
        // A new buffer is left unwritten: `body` writes every element of it.
        if gradStorage == nil { gradStorage = Tensor(shape: value.shape, data: [Float].uninitialized(count: value.count)) }
        gradReadsAsZero = false
        body(&gradStorage!, overwrite)
    }
    /// True for normalisation affine parameters (BatchNorm, LayerNorm, GroupNorm): TENT adapts
    /// these, and FedBN keeps them at each site.
    public let isNormalization: Bool
    /// True for a LoRA factor (`lora_A`, `lora_B`): trained whenever the model has LoRA.
    public let isAdapter: Bool
    /// LoRA factors trained from this (frozen) base weight's gradient; empty for most.
    public internal(set) var adapters: [Parameter] = []
    private var trainableFlag = true

    /// A parameter with a zero gradient of the same shape (allocated when first used).
    public init(name: String, value: Tensor, isNormalization: Bool = false, isAdapter: Bool = false) {
        self.name = name
        self.value = value
        self.isNormalization = isNormalization
        self.isAdapter = isAdapter
    }

    /// Whether backward computes this parameter's gradient. A frozen parameter (false) gets no
    /// gradient and is never updated. A LoRA base weight ignores assignments: it reports true
    /// while one of its adapters trains (its layer must compute the gradient they learn from).
    public var isTrainable: Bool {
        get { isLoRABase ? adapters.contains { $0.trainableFlag } : trainableFlag }
        set { trainableFlag = newValue }
    }

    /// Whether this is a LoRA base weight (frozen; its adapters train instead).
    public var isLoRABase: Bool { !adapters.isEmpty }

    /// Whether optimizers update this parameter: trainable and not a LoRA base.
    public var isUpdated: Bool { isTrainable && !isLoRABase }

    /// Sets the gradient to zero (a gradient never allocated stays so: it reads as zeros), so
    /// zeroing a frozen parameter's gradient, as optimizers do, never allocates one. The
    /// buffer is written only when next used (see `grad`).
    public func zeroGrad() { if gradStorage != nil { gradReadsAsZero = true } }

    /// Whether the gradient buffer exists (it is allocated on first use).
    public var hasGradientStorage: Bool { gradStorage != nil }
}

/// A non-trainable tensor a layer keeps as state, e.g. BatchNorm running statistics.
public final class Buffer {
    /// Stable dotted name, e.g. `bn1.running_mean`.
    public let name: String
    /// Current value.
    public var value: Tensor { didSet { version &+= 1 } }
    /// Changes whenever `value` does, like `Parameter.version`.
    public private(set) var version = 0

    /// A named buffer.
    public init(name: String, value: Tensor) {
        self.name = name
        self.value = value
    }
}
