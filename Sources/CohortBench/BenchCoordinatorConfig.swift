import CohortFederation

extension Coordinator.Config {
    /// A benchmark's coordinator: one round for `nodes` nodes holding `secrets`, journaling to
    /// `outDir`, on a free loopback port, with `timeout` seconds to connect and for the round.
    static func benchRound(outDir: String, nodes: Int, secrets: [String: [UInt8]], timeout: Double) -> Coordinator.Config {
        var config = Coordinator.Config(outDir: outDir)
        config.port = 0
        config.rounds = 1
        config.minNodes = nodes
        config.roundTimeout = timeout
        config.waitForNodes = timeout
        config.secrets = secrets
        return config
    }
}
