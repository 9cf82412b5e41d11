import CohortCheckpoint
import CohortTensor

/// Testing only: how a hostile node corrupts what it sends (`cohort node --test-attack`,
/// reachable only with `--insecure` and a loopback coordinator; `cohort simulate --byzantine`).
/// The node trains as usual, then the attack changes its update, its labels or the sample count
/// it claims, so the coordinator's screening and robust strategies meet it on the real path.
public enum ByzantineAttack: String, CaseIterable, Sendable {
    /// The honest update × `scaleFactor` (1000).
    case scale
    /// The honest update × `signFlipFactor` (−10): pushes the model the other way.
    case signflip
    /// Trains on permuted labels (class c taught as `classes − 1 − c`), update sent as it comes.
    case labelflip
    /// Gaussian noise of `noiseNormMultiple` (100) × the honest update's norm in its place.
    case noise
    /// Claims `inflatedSamples` (10⁹) samples in HELLO and every UPDATE, with the honest update
    /// negated (same norm, so only a sample-weight cap or a robust strategy stops it).
    case sampleInflation = "sample-inflation"

    public static let scaleFactor: Float = 1000
    public static let signFlipFactor: Float = -10
    public static let noiseNormMultiple = 100.0
    public static let inflatedSamples = 1_000_000_000

    /// The attack called `name`; throws naming the valid ones.
    public init(parsing name: String) throws(UnknownAttack) {
        guard let attack = ByzantineAttack(rawValue: name) else { throw UnknownAttack(name: name) }
        self = attack
    }

    /// The sample count the node claims instead of its `honest` one.
    public func claimedSamples(honest: Int) -> Int { self == .sampleInflation ? Self.inflatedSamples : honest }

    /// The labels the node trains on instead of `labels` (only `labelflip` changes them): class
    /// c becomes `classes − 1 − c`, with `classes` one more than the largest label.
    public func trainingLabels(_ labels: [Int]) -> [Int] {
        guard self == .labelflip, let top = labels.max() else { return labels }
        return labels.map { top - $0 }
    }

    /// The update the node sends instead of its honest `delta`; `seed` draws `noise`.
    public func corrupt(_ delta: ModelDelta, seed: UInt64) throws(ModelDeltaError) -> ModelDelta {
        switch self {
        case .labelflip: return delta
        case .scale: return try Self.scaled(delta, by: Self.scaleFactor)
        case .signflip: return try Self.scaled(delta, by: Self.signFlipFactor)
        case .sampleInflation: return try Self.scaled(delta, by: -1)
        case .noise:
            var rng = SeededRandom(seed: seed)
            var noise: [(name: String, value: Tensor)] = []
            var sum = 0.0
            for name in delta.names {
                var t = delta[name]!
                for i in t.data.indices {
                    let v = rng.normal()
                    t.data[i] = v
                    sum += Double(v) * Double(v)
                }
                noise.append((name, t))
            }
            // Scaled to the multiple of the honest norm (a zero update gets noise of norm 1).
            let honest = Self.norm(delta)
            let target = honest > 0 ? honest * Self.noiseNormMultiple : 1
            let factor = sum > 0 ? Float(target / sum.squareRoot()) : 0
            return try Self.scaled(ModelDelta(noise), by: factor)
        }
    }

    /// The L2 norm over every value of `delta`, in double precision.
    public static func norm(_ delta: ModelDelta) -> Double {
        var sum = 0.0
        for name in delta.names { for v in delta[name]!.data { sum += Double(v) * Double(v) } }
        return sum.squareRoot()
    }

    private static func scaled(_ delta: ModelDelta, by factor: Float) throws(ModelDeltaError) -> ModelDelta {
        try ModelDelta(delta.names.map { name in
            var t = delta[name]!
            for i in t.data.indices { t.data[i] *= factor }
            return (name, t)
        })
    }
}

/// A name that is not a `ByzantineAttack`.
public struct UnknownAttack: Error, CustomStringConvertible, Equatable, Sendable {
    public let name: String
    public init(name: String) { self.name = name }
    public var description: String {
        "unknown attack '\(name)' (known: \(ByzantineAttack.allCases.map(\.rawValue).joined(separator: ", ")))"
    }
}
