import CohortNN
import CohortTensor

/// What a node sends each round: `local − global` for each tensor that was trainable this
/// round, by name. A frozen backbone never appears in a delta.
///
/// The tensors keep an order (`names`), which is the order they are encoded in.
/// `applied(to:)` adds the delta back to a state dict, so `delta.applied(to: global)` gives
/// `local` (up to float rounding of `(local − global) + global`).
public struct ModelDelta: Equatable, Sendable {
    /// Tensor names in encoding order; each appears once.
    public private(set) var names: [String]
    /// The delta of each named tensor.
    public private(set) var tensors: [String: Tensor]

    /// A delta from named tensors, in the given order. Names must be unique and non-empty.
    public init(_ entries: [(name: String, value: Tensor)]) throws(ModelDeltaError) {
        names = []
        tensors = [:]
        names.reserveCapacity(entries.count)
        for (name, value) in entries {
            guard !name.isEmpty else { throw ModelDeltaError("a delta tensor has an empty name") }
            guard tensors.updateValue(value, forKey: name) == nil else {
                throw ModelDeltaError("tensor '\(name)' appears twice in the delta")
            }
            names.append(name)
        }
    }

    /// `local − global` for every name in `trainable`, in `local`'s order. Every trainable name
    /// must be in both state dicts with the same shape; other tensors are ignored.
    public init(local: [(name: String, value: Tensor)], global: [(name: String, value: Tensor)],
                trainable: Set<String>) throws(ModelDeltaError) {
        var globalByName: [String: Tensor] = [:]
        for (name, value) in global { globalByName[name] = value }
        var seen = Set<String>()
        var entries: [(name: String, value: Tensor)] = []
        for (name, value) in local where trainable.contains(name) {
            guard seen.insert(name).inserted else { throw ModelDeltaError("tensor '\(name)' appears twice in the local state") }
            guard let base = globalByName[name] else {
                throw ModelDeltaError("trainable tensor '\(name)' is in the local state but not in the global state")
            }
            entries.append((name, try Self.difference(name, value, base)))
        }
        if let missing = trainable.subtracting(seen).sorted().first {
            throw ModelDeltaError("trainable tensor '\(missing)' is not in the local state")
        }
        try self.init(entries)
    }

    /// `local − global` for every name in `trainable`, in sorted name order. Every trainable
    /// name must be in both state dicts with the same shape; other tensors are ignored.
    public init(local: [String: Tensor], global: [String: Tensor], trainable: Set<String>) throws(ModelDeltaError) {
        var entries: [(name: String, value: Tensor)] = []
        for name in trainable.sorted() {
            guard let value = local[name] else { throw ModelDeltaError("trainable tensor '\(name)' is not in the local state") }
            guard let base = global[name] else {
                throw ModelDeltaError("trainable tensor '\(name)' is in the local state but not in the global state")
            }
            entries.append((name, try Self.difference(name, value, base)))
        }
        try self.init(entries)
    }

    /// The names of a model's trainable parameters (what a delta of that model should carry).
    public static func trainableNames(of model: Sequential) -> Set<String> {
        Set(model.trainableParameters.map(\.name))
    }

    /// The delta of one tensor, if present.
    public subscript(name: String) -> Tensor? { tensors[name] }

    /// Number of tensors.
    public var count: Int { names.count }

    /// Total number of elements over all tensors.
    public var parameterCount: Int { tensors.values.reduce(0) { $0 + $1.count } }

    /// The shape of every tensor, by name (what a decoder expects).
    public var shapes: [String: [Int]] { tensors.mapValues(\.shape) }

    /// The named tensors in order.
    public var entries: [(name: String, value: Tensor)] { names.map { ($0, tensors[$0]!) } }

    /// The Euclidean norm over all elements, accumulated in double precision.
    public var l2Norm: Double {
        var sum = 0.0
        for t in tensors.values { for v in t.data { sum += Double(v) * Double(v) } }
        return sum.squareRoot()
    }

    /// `state + delta` for every tensor of the delta; other tensors of `state` are returned
    /// unchanged. Every delta tensor must be in `state` with the same shape.
    public func applied(to state: [String: Tensor]) throws(ModelDeltaError) -> [String: Tensor] {
        var out = state
        for name in names {
            guard let base = state[name] else { throw ModelDeltaError("delta tensor '\(name)' is not in the state it is applied to") }
            out[name] = try Self.sum(name, base, tensors[name]!)
        }
        return out
    }

    /// `state + delta` for an ordered state dict (order kept); see `applied(to:)` for dictionaries.
    public func applied(to state: [(name: String, value: Tensor)]) throws(ModelDeltaError) -> [(name: String, value: Tensor)] {
        var present = Set<String>()
        var out: [(name: String, value: Tensor)] = []
        out.reserveCapacity(state.count)
        for (name, value) in state {
            if let d = tensors[name] {
                present.insert(name)
                out.append((name, try Self.sum(name, value, d)))
            } else {
                out.append((name, value))
            }
        }
        if let missing = names.first(where: { !present.contains($0) }) {
            throw ModelDeltaError("delta tensor '\(missing)' is not in the state it is applied to")
        }
        return out
    }

    private static func difference(_ name: String, _ a: Tensor, _ b: Tensor) throws(ModelDeltaError) -> Tensor {
        guard a.shape == b.shape else {
            throw ModelDeltaError("tensor '\(name)': local shape \(a.shape) differs from global shape \(b.shape)")
        }
        var out = [Float].uninitialized(count: a.count)
        out.withUnsafeMutableBufferPointer { o in
            a.data.withUnsafeBufferPointer { x in
                b.data.withUnsafeBufferPointer { y in
                    DeltaKernels.subtract(x.baseAddress, y.baseAddress, into: o.baseAddress, count: a.count)
                }
            }
        }
        return Tensor(shape: a.shape, data: out)
    }

    private static func sum(_ name: String, _ base: Tensor, _ delta: Tensor) throws(ModelDeltaError) -> Tensor {
        guard base.shape == delta.shape else {
            throw ModelDeltaError("tensor '\(name)': delta shape \(delta.shape) differs from state shape \(base.shape)")
        }
        var out = base
        if delta.count == 0 { return out }
        out.data.withUnsafeMutableBufferPointer { o in
            delta.data.withUnsafeBufferPointer { d in
                VectorKernels.axpy(count: d.count, alpha: 1, x: d.baseAddress!, y: o.baseAddress!)
            }
        }
        return out
    }
}

extension ModelDelta {
    /// A delta whose names are already known unique and non-empty (the decoder checked them).
    init(validatedNames names: [String], tensors: [String: Tensor]) {
        self.names = names
        self.tensors = tensors
    }
}
