/// Pools the single-seed runs of one defence into one row: per (defence, attack) cell the mean
/// accuracy over seeds and the attacked − clean difference paired by seed (the same seed's cohort
/// and source model), with its mean, min, max and standard error.
public enum ByzantineSeedPooling {
    /// One seed's runs of a defence, clean first, as `ByzantineRunner.measure` returns them.
    public struct SeedRuns: Sendable {
        public var seed: UInt64
        public var runs: [ByzantineResults.Run]
        public init(seed: UInt64, runs: [ByzantineResults.Run]) { self.seed = seed; self.runs = runs }
    }

    /// The pooled defence: one run per attack label of the first seed (in its order). A cell
    /// missing for some seed counts as failed for that seed.
    public static func pool(name: String, description: String, seeds: [SeedRuns]) -> ByzantineResults.Defence {
        let labels = seeds.first?.runs.map(\.attack) ?? []
        func seedRun(_ label: String, _ entry: SeedRuns) -> ByzantineResults.SeedRun {
            guard let run = entry.runs.first(where: { $0.attack == label }) else {
                return ByzantineResults.SeedRun(seed: entry.seed, meanAccuracy: nil, screenedRounds: 0, rounds: 0, wallSeconds: 0, failed: "not run")
            }
            return ByzantineResults.SeedRun(seed: entry.seed, meanAccuracy: run.meanAccuracy, screenedRounds: run.screenedRounds,
                                            rounds: run.rounds, wallSeconds: run.wallSeconds, failed: run.failed)
        }
        let clean = seeds.map { seedRun(ByzantineResults.clean, $0) }
        let runs = labels.map { label -> ByzantineResults.Run in
            let perSeed = seeds.map { seedRun(label, $0) }
            let accuracies = perSeed.compactMap(\.meanAccuracy)
            let allFinished = accuracies.count == perSeed.count && !perSeed.isEmpty
            let failure = perSeed.first { $0.meanAccuracy == nil }.map { "seed \($0.seed): \($0.failed ?? "no accuracy")" }
            var pooled = ByzantineResults.Run(attack: label, meanAccuracy: allFinished ? mean(accuracies) : nil,
                                              screenedRounds: perSeed.map(\.screenedRounds).reduce(0, +), rounds: perSeed.map(\.rounds).reduce(0, +),
                                              wallSeconds: perSeed.map(\.wallSeconds).reduce(0, +), failed: failure, seedRuns: perSeed)
            if label != ByzantineResults.clean {
                // Paired by position: clean[i] and perSeed[i] are the same seed.
                let differences = zip(perSeed, clean).compactMap { attacked, clean -> Double? in
                    guard let a = attacked.meanAccuracy, let c = clean.meanAccuracy else { return nil }
                    return a - c
                }
                if differences.count == perSeed.count, !differences.isEmpty {
                    pooled.meanDifference = mean(differences)
                    pooled.differenceMin = differences.min()
                    pooled.differenceMax = differences.max()
                    pooled.differenceStandardError = standardError(differences)
                }
            }
            return pooled
        }
        return ByzantineResults.Defence(name: name, description: description, runs: runs)
    }

    static func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(values.count) }

    /// Sample standard deviation / √n; nil below two values.
    static func standardError(_ values: [Double]) -> Double? {
        guard values.count >= 2 else { return nil }
        let m = mean(values)
        let variance = values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(values.count - 1)
        return (variance / Double(values.count)).squareRoot()
    }
}
