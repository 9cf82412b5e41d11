import CohortFederation
import CohortTransport
import Foundation

/// `cohort coordinator --metrics-listen` (and `--log-format`): the Prometheus endpoint (protocols/metrics.md), kept
/// apart from CoordinatorCommand so the coordinator's own code only calls the metrics hooks.
enum CoordinatorMetricsOptions {
    static let options = [
        OptionSpec("metrics-listen", value: "HOST:PORT", help: "Serve Prometheus metrics (GET /metrics), /healthz and /readyz over HTTP here."),
        OptionSpec("metrics-port-file", value: "FILE", help: "Write the metrics port actually listened on here (for --metrics-listen HOST:0)."),
    ] + LogFormatOption.options

    /// With --metrics-listen: registers the metrics in `config`, seeds them from a resumed
    /// journal (`completed`), binds the endpoint and starts serving. Nil without the option.
    @discardableResult
    static func start(_ command: ParsedCommand, config: inout Coordinator.Config, completed: [Coordinator.RoundRecord]) throws -> MetricsServer? {
        guard command.isSet("metrics-listen") else {
            if command.isSet("metrics-port-file") { throw UsageError(context: command.context, problem: "--metrics-port-file needs --metrics-listen") }
            return nil
        }
        let (host, port) = try Endpoint.parse(try command.string("metrics-listen"), option: "metrics-listen", context: command.context)
        let metrics = try CoordinatorMetrics(plannedRounds: config.rounds)
        metrics.restored(rounds: completed.count, epsilon: completed.last?.epsilon, lastWrite: completed.last?.finishedAt)
        let server: MetricsServer
        do { server = try MetricsServer(host: host, port: port, registry: metrics.registry, ready: { metrics.ready }) } catch {
            throw CommandError("--metrics-listen \(host):\(port): \(error)")
        }
        if command.isSet("metrics-port-file") {
            try Data("\(server.port)\n".utf8).write(to: URL(fileURLWithPath: try command.string("metrics-port-file")), options: .atomic)
        }
        server.start()
        config.metrics = metrics
        Terminal.progress("coordinator: metrics on http://\(host.contains(":") ? "[\(host)]" : host):\(server.port)/metrics")
        return server
    }
}
