import Foundation

/// Where a node's round goes (issue 19): the seconds of each stage, with this process's
/// resident memory (`VmRSS`) and its high-water mark so far (`VmHWM`) read from
/// /proc/self/status when the stage ends, so a benchmark can tell which stage raised the peak.
/// The node logs it once per plain round as one line, `<name>: round <r>: stages <JSON>`
/// (`FederatedNode.stagesLogMarker`), which `cohort bench large-model` reads from the node's log.
public struct NodeStageTimings: Codable, Sendable, Equatable {
    /// One stage.
    public struct Stage: Codable, Sendable, Equatable {
        public var name: String
        public var seconds: Double
        /// Resident bytes when the stage ended (0 where /proc is not available).
        public var residentBytes: Int
        /// Peak resident bytes of the process so far, when the stage ended.
        public var peakResidentBytes: Int
    }

    public var round: Int
    public var stages: [Stage] = []

    /// Parses a node log line written by `FederatedNode` (nil for any other line).
    public static func parse(logLine line: some StringProtocol) -> NodeStageTimings? {
        guard let range = line.range(of: FederatedNode.stagesLogMarker) else { return nil }
        return try? JSONDecoder().decode(NodeStageTimings.self, from: Data(line[range.upperBound...].utf8))
    }
}

/// Times a node's stages as they happen (`mark` ends the current stage and starts the next).
final class NodeStageClock {
    private(set) var timings: NodeStageTimings
    private var last = ContinuousClock.now

    init(round: Int) { timings = NodeStageTimings(round: round) }

    /// Ends the stage that began at the previous mark (or at creation); `minus`: seconds of
    /// it already recorded as stages of their own (`add`).
    func mark(_ name: String, minus: Double = 0) {
        let now = ContinuousClock.now
        add(name, seconds: max(0, Self.seconds(now - last) - minus))
        last = now
    }

    /// Records a stage timed elsewhere (its memory read now); the running stage is not affected.
    func add(_ name: String, seconds: Double) {
        let memory = Self.memory()
        timings.stages.append(.init(name: name, seconds: seconds, residentBytes: memory.resident, peakResidentBytes: memory.peak))
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    /// `VmRSS` and `VmHWM` of /proc/self/status in bytes (0 when unreadable).
    static func memory() -> (resident: Int, peak: Int) {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return (0, 0) }
        func kb(_ key: String) -> Int {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key) }) else { return 0 }
            return (line.split(separator: " ").compactMap { Int($0) }.first ?? 0) * 1024
        }
        return (kb("VmRSS:"), kb("VmHWM:"))
    }
}
