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

        public init(attack: String, meanAccuracy: Double?, screenedRounds: Int, rounds: Int, wallSeconds: Double, failed: String? = nil) {
            self.attack = attack; self.meanAccuracy = meanAccuracy; self.screenedRounds = screenedRounds
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
        /// (or failed, or has no clean run to compare with).
        public func attacksBeyond(points: Double) -> [String] {
            runs.filter { $0.attack != ByzantineResults.clean }.filter { run in
                guard let clean, let attacked = run.meanAccuracy else { return true }
                // A hair of rounding (0.40 − 0.38 is 2.0000000000000018 points) is not a drop.
                return (clean - attacked) * 100 > points + 1e-9
            }.map(\.attack)
        }
    }

    /// The attack name of the clean runs.
    public static let clean = "clean"

    /// Hostile hospitals (the first `hostile.count` of the cohort).
    public var hostile: [String]
    public var honest: [String]
    public var kind: String
    public var seed: UInt64
    public var rounds: Int
    public var defences: [Defence]
    public var wallSeconds: Double

    public init(hostile: [String], honest: [String], kind: String, seed: UInt64, rounds: Int, defences: [Defence], wallSeconds: Double) {
        self.hostile = hostile; self.honest = honest; self.kind = kind; self.seed = seed
        self.rounds = rounds; self.defences = defences; self.wallSeconds = wallSeconds
    }

    /// The attacks run, in order (every defence runs the same).
    public var attacks: [String] {
        (defences.first?.runs ?? []).map(\.attack).filter { $0 != Self.clean }
    }
}
