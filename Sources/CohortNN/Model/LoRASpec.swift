/// Low-rank adaptation (Hu et al. 2021) of a model's weight matrices: each targeted weight W
/// (frozen) is used as W + (α/r)·B·A with A `[r, in…]` and B `[out, r]` trained instead.
///
/// Targets are node-name patterns (`*` matches any run of characters, e.g. `layer*.conv*`,
/// `blocks.*.attn`, `*.mlp.fc1`); in a matching node every parameter of rank ≥ 2 whose name
/// ends in `weight` is adapted (dense, linear and conv weights; an attention node's `qkv` and
/// `proj` weights, or `in_proj_weight` and `out_proj.weight`).
public struct LoRASpec: Codable, Equatable, Sendable {
    /// Rank r of the update (≥ 1).
    public var rank: Int
    /// Scale α: the update is multiplied by α / r (default α = r, scale 1).
    public var alpha: Float?
    /// Node-name patterns of the adapted nodes.
    public var targets: [String]

    /// A LoRA configuration of rank `rank` on the nodes matching `targets`.
    public init(rank: Int, alpha: Float? = nil, targets: [String]) {
        self.rank = rank
        self.alpha = alpha
        self.targets = targets
    }

    /// Largest rank accepted.
    public static let maxRank = 4096

    /// α / r.
    public var scale: Float { (alpha ?? Float(rank)) / Float(rank) }

    /// Checks rank, α and targets (wherever a configuration comes from: a model description, a
    /// plan, the command line).
    public func validate() throws(ModelSpecError) {
        guard rank >= 1 && rank <= Self.maxRank else { throw ModelSpecError("lora: 'rank' must be in 1...\(Self.maxRank), got \(rank)") }
        if let a = alpha, !(a.isFinite && a > 0) { throw ModelSpecError("lora: 'alpha' must be a positive number, got \(a)") }
        guard !targets.isEmpty else { throw ModelSpecError("lora: 'targets' is empty") }
    }

    /// Whether `name` matches `pattern` (`*` matches any run of characters, including none).
    public static func matches(_ name: String, pattern: String) -> Bool {
        let n = Array(name.utf8), p = Array(pattern.utf8)
        var i = 0, j = 0, star = -1, mark = 0
        while i < n.count {
            if j < p.count && p[j] != UInt8(ascii: "*") && p[j] == n[i] { i += 1; j += 1 }
            else if j < p.count && p[j] == UInt8(ascii: "*") { star = j; mark = i; j += 1 }
            else if star >= 0 { j = star + 1; mark += 1; i = mark }
            else { return false }
        }
        while j < p.count && p[j] == UInt8(ascii: "*") { j += 1 }
        return j == p.count
    }

    /// The LoRA factor names for a base weight named `weight`: `x.weight` → `x.lora_A`,
    /// `x.in_proj_weight` → `x.in_proj.lora_A`.
    public static func factorNames(for weight: String) -> (a: String, b: String) {
        var stem = weight
        if stem.hasSuffix(".weight") { stem.removeLast(".weight".count) } else if stem.hasSuffix("_weight") { stem.removeLast("_weight".count) }
        return (stem + ".lora_A", stem + ".lora_B")
    }
}
