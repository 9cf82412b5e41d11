import Foundation

/// The outcome of `cohort simulate --byzantine K`: for every defence, the mean test accuracy
/// of the honest hospitals after a clean run and after a run under each attack
/// (`byzantine.json`; protocols/simulation-outputs.md).
public struct ByzantineResults: Codable, Sendable, Equatable {
    /// One federated run.
    public struct Run: Codable, Sendable, Equatable {
        /// `clean` or the attack's name.
        public var attack: String
        /// Mean final test accuracy over the honest hospitals (nil: the run failed).
        public var meanAccuracy: Double?
        /// Rounds in which the coordinator's screening rejected, clipped or capped a hostile
        /// update, out of `rounds`.
        public var screenedRounds: Int
        public var rounds: Int
        public var wallSeconds: Double
        /// Why the run failed (the coordinator or a node exited), nil when it finished.
        public var failed: String?
        /// With several seeds (`--seeds`): this cell's run for each seed, in the order of
        /// `ByzantineResults.seeds`; the fields above are then pooled (`ByzantineSeedPooling`).
        /// Nil in a single-seed result written before seeds existed.
        public var seedRuns: [SeedRun]?
        /// Attacked − clean accuracy (0–1 scale), paired by seed and averaged over seeds; nil for
        /// the clean run and when any seed's clean or attacked run failed.
        public var meanDifference: Double?
        /// The smallest and largest per-seed paired difference.
        public var differenceMin: Double?
        public var differenceMax: Double?
        /// Standard error of `meanDifference` (sample standard deviation / √seeds); nil below 2 seeds.
        public var differenceStandardError: Double?

        public init(attack: String, meanAccuracy: Double?, screenedRounds: Int, rounds: Int, wallSeconds: Double, failed: String? = nil,
                    seedRuns: [SeedRun]? = nil, meanDifference: Double? = nil, differenceMin: Double? = nil, differenceMax: Double? = nil,
                    differenceStandardError: Double? = nil) {
            self.attack = attack; self.meanAccuracy = meanAccuracy; self.screenedRounds = screenedRounds
            self.rounds = rounds; self.wallSeconds = wallSeconds; self.failed = failed
            self.seedRuns = seedRuns; self.meanDifference = meanDifference; self.differenceMin = differenceMin
            self.differenceMax = differenceMax; self.differenceStandardError = differenceStandardError
        }
    }

    /// One seed's run of a (defence, attack) cell.
    public struct SeedRun: Codable, Sendable, Equatable {
        public var seed: UInt64
        /// Mean final test accuracy over the honest hospitals (nil: the run failed).
        public var meanAccuracy: Double?
        public var screenedRounds: Int
        public var rounds: Int
        public var wallSeconds: Double
        public var failed: String?

        public init(seed: UInt64, meanAccuracy: Double?, screenedRounds: Int, rounds: Int, wallSeconds: Double, failed: String? = nil) {
            self.seed = seed; self.meanAccuracy = meanAccuracy; self.screenedRounds = screenedRounds
            self.rounds = rounds; self.wallSeconds = wallSeconds; self.failed = failed
        }
    }

    /// One defence: its runs, clean first.
    public struct Defence: Codable, Sendable, Equatable {
        /// The defence's name (`ByzantineDefence`).
        public var name: String
        /// The plan's strategy and screening, in words.
        public var description: String
        public var runs: [Run]

        public init(name: String, description: String, runs: [Run]) {
            self.name = name; self.description = description; self.runs = runs
        }

        /// The clean run's mean accuracy.
        public var clean: Double? { runs.first { $0.attack == ByzantineResults.clean }?.meanAccuracy }

        /// The attacks whose run ended more than `points` percentage points below the clean run
        /// (or failed, or has no clean run to compare with). With several seeds, the mean of the
        /// per-seed paired differences is judged.
        public func attacksBeyond(points: Double) -> [String] {
            runs.filter { $0.attack != ByzantineResults.clean }.filter { run in
                guard let attacked = run.meanAccuracy else { return true }
                let difference = run.seedRuns == nil ? clean.map { attacked - $0 } : run.meanDifference
                guard let difference else { return true }
                // A hair of rounding (0.40 − 0.38 is 2.0000000000000018 points) is not a drop.
                return -difference * 100 > points + 1e-9
            }.map(\.attack)
        }
    }

    /// The attack name of the clean runs.
    public static let clean = "clean"

    /// Hostile hospitals (the first `hostile.count` of the cohort).
    public var hostile: [String]
    public var honest: [String]
    public var kind: String
    /// The first seed (the only one without `--seeds`).
    public var seed: UInt64
    /// Every seed run, in order (nil in results written before `--seeds` existed).
    public var seeds: [UInt64]?
    public var rounds: Int
    public var defences: [Defence]
    public var wallSeconds: Double

    public init(hostile: [String], honest: [String], kind: String, seed: UInt64, rounds: Int, defences: [Defence], wallSeconds: Double,
                seeds: [UInt64]? = nil) {
        self.hostile = hostile; self.honest = honest; self.kind = kind; self.seed = seed
        self.rounds = rounds; self.defences = defences; self.wallSeconds = wallSeconds; self.seeds = seeds
    }

    /// How many seeds each cell pools (1 for single-seed results).
    public var seedCount: Int { seeds?.count ?? 1 }

    /// The attacks run, in order (every defence runs the same).
    public var attacks: [String] {
        (defences.first?.runs ?? []).map(\.attack).filter { $0 != Self.clean }
    }
}
