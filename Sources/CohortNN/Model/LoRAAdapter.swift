import CohortTensor

/// The LoRA factors of a model and the arithmetic tying them to their base weights: before a
/// forward pass each adapted weight is set to W₀ + s·B·A; after a backward pass the weight's
/// gradient G is turned into the factors' gradients (s·Bᵀ·G for A, s·G·Aᵀ for B) and cleared.
/// The base W₀ is what the state dictionary holds under the weight's own name.
final class LoRAAdapter {
    struct Entry {
        let weight: Parameter
        var base: Tensor
        let a: Parameter
        let b: Parameter
        let rows: Int
        let columns: Int
    }

    let spec: LoRASpec
    private(set) var entries: [Entry] = []

    /// Adapts every weight of rank ≥ 2 ending in `weight` in the nodes matching the targets.
    /// A is drawn uniform in ±1/√columns (PEFT's default), B starts at zero so the model is
    /// unchanged until training moves it.
    init(spec: LoRASpec, layers: [Layer], seed: UInt64) throws {
        self.spec = spec
        try spec.validate()
        let root = SeededRandom(seed: seed)
        var matchedPatterns = Set<String>()
        for layer in layers {
            let hits = spec.targets.filter { LoRASpec.matches(layer.name, pattern: $0) }
            guard !hits.isEmpty else { continue }
            for p in layer.parameters where p.value.rank >= 2 && (p.name.hasSuffix("weight")) {
                matchedPatterns.formUnion(hits)
                let rows = p.value.shape[0], columns = p.value.count / max(rows, 1)
                let names = LoRASpec.factorNames(for: p.name)
                var rng = root.derived(stream: names.a.hashValueStable)
                let bound = 1 / Float(columns).squareRoot()
                let aShape = [spec.rank] + Array(p.value.shape.dropFirst())
                let a = Parameter(name: names.a, value: Tensor(shape: aShape, data: rng.uniformArray(count: spec.rank * columns, -bound, bound)),
                                  isAdapter: true)
                let b = Parameter(name: names.b, value: Tensor(shape: [rows, spec.rank]), isAdapter: true)
                p.adapters = [a, b]
                entries.append(Entry(weight: p, base: p.value, a: a, b: b, rows: rows, columns: columns))
            }
        }
        if let unused = spec.targets.first(where: { !matchedPatterns.contains($0) }) {
            throw ModelSpecError("lora: target '\(unused)' matches no node with a weight matrix")
        }
    }

    /// The factors, in the order of their base weights (A then B).
    var parameters: [Parameter] { entries.flatMap { [$0.a, $0.b] } }

    /// The base weight stored under `name`, if `name` is an adapted weight.
    func base(of name: String) -> Tensor? { entries.first { $0.weight.name == name }?.base }

    /// Replaces the base of the adapted weight `name` (loading a state dictionary).
    func setBase(_ value: Tensor, of name: String) {
        guard let i = entries.firstIndex(where: { $0.weight.name == name }) else { return }
        entries[i].base = value
        entries[i].weight.value = value
    }

    /// Sets every adapted weight to W₀ + s·B·A.
    func materialize() {
        let s = spec.scale, r = spec.rank
        for e in entries {
            var w = e.base
            Gemm.multiply(transA: false, transB: false, m: e.rows, n: e.columns, k: r, alpha: s,
                          a: e.b.value.data, lda: r, b: e.a.value.data, ldb: e.columns, beta: 1, c: &w.data, ldc: e.columns)
            e.weight.value = w
        }
    }

    /// Moves each adapted weight's gradient into its factors' gradients and clears it.
    func foldGradients() {
        let s = spec.scale, r = spec.rank
        for e in entries {
            if e.a.isTrainable {
                Gemm.multiply(transA: true, transB: false, m: r, n: e.columns, k: e.rows, alpha: s,
                              a: e.b.value.data, lda: r, b: e.weight.grad.data, ldb: e.columns, beta: 1, c: &e.a.grad.data, ldc: e.columns)
            }
            if e.b.isTrainable {
                Gemm.multiply(transA: false, transB: true, m: e.rows, n: r, k: e.columns, alpha: s,
                              a: e.weight.grad.data, lda: e.columns, b: e.a.value.data, ldb: e.columns, beta: 1, c: &e.b.grad.data, ldc: r)
            }
            e.weight.zeroGrad()
        }
    }

    /// W₀ + s·B·A for every adapted weight, by name (the merged model's weights).
    func mergedWeights() -> [String: Tensor] {
        materialize()
        return Dictionary(uniqueKeysWithValues: entries.map { ($0.weight.name, $0.weight.value) })
    }
}
