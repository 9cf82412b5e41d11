import CohortTransport
import Foundation

extension Coordinator {
    /// How the federation runs.
    public struct Config {
        public var host = "127.0.0.1"
        public var port: UInt16 = 7070
        public var secrets: [String: [UInt8]] = [:]
        /// Per-node expected sample counts, where the operator knows them (the secrets file's
        /// third field): a node claiming more has its sample weight capped at its count, or its
        /// update rejected when the plan's screening action is `reject` (protocols/wire.md,
        /// "Expected sample counts").
        public var expectedSamples: [String: Int] = [:]
        public var tls: TLSContext?
        public var rounds = 3
        public var minNodes = 1
        /// Updates needed to aggregate a round, and nodes needed to start rounds after the first
        /// (default: `minNodes`).
        public var quorum: Int?
        public var roundTimeout: Double = 60
        /// How long to wait for `minNodes` to connect before giving up.
        public var waitForNodes: Double = 120
        /// Fraction of the connected nodes sampled each round (at least the quorum), seeded by
        /// the plan's seed and the round number, so a run is reproducible.
        public var fraction = 1.0
        /// Seconds between HEARTBEAT frames to every connected node, so an idle node can tell a
        /// live coordinator from a dead link.
        public var heartbeatInterval: Double = 5
        public var outDir: String
        public var plan = TrainingPlan()
        /// After the last round, send the final model to every connected node (EVALUATE) and
        /// write their metrics to `evaluation.json`.
        public var finalEvaluation = true
        /// When set, the port actually listened on is written to this file (atomically) once the
        /// coordinator accepts connections, so launchers can use port 0.
        public var portFile: String?
        /// Testing only: under secure aggregation, write every masked vector received and every
        /// unmasked sum to this folder (`masked-s<session>-n<node>.u32`, `sum-s<session>.u32`).
        public var secureAggregationDump: String?
        /// Bytes of updates held for nodes whose turn to be folded has not come; beyond it their
        /// reading waits (see `OrderedFold`).
        public var updateBufferBytes = Coordinator.defaultUpdateBufferBytes
        /// Testing and reproducible simulations only: draw the privacy noise, the Poisson sample
        /// and the clipping count's noise from streams keyed by (this seed, round) instead of the
        /// CSPRNG. Anyone who knows the seed can subtract the noise.
        public var noiseSeed: UInt64?
        /// Send every MODEL and EVALUATE with the whole model, never a delta from the node's
        /// last version (`--full-models`).
        public var fullModels = false
        /// When set, the run reports to these metrics (`--metrics-listen`; protocols/metrics.md).
        public var metrics: CoordinatorMetrics?
        /// Caps on connections before authentication (nil: fitted to the descriptor limit, see
        /// `HandshakeLimits.fitted`; protocols/wire.md, "Connection limits").
        public var handshakeLimits: HandshakeLimits?
        public init(outDir: String) { self.outDir = outDir }
    }
}
