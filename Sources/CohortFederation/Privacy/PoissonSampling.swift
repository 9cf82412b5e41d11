/// Poisson sampling of nodes for private rounds (protocols/privacy.md, "Sampling"): every node
/// of the population takes part independently with probability q.
public enum PoissonSampling {
    /// The members of `population` drawn at rate `q`: one uniform draw in (0, 1] per member, in
    /// the order given, kept when it is ≤ q. Draw from `CryptoRandom.system()` in real runs: the
    /// amplification by q assumes the sample is secret from whoever sees the models.
    public static func sample(_ population: [String], rate q: Double, random: CryptoRandom) -> [String] {
        precondition(q > 0 && q <= 1, "sampling rate must be in (0, 1], got \(q)")
        var chosen: [String] = []
        for name in population where random.unitIntervalOpenAtZero() <= q { chosen.append(name) }
        return chosen
    }
}
