import Foundation

/// `--log-format text|json` for the long-running commands (coordinator, node): with json every
/// progress and error line on stderr is one JSON object, for log collectors.
enum LogFormatOption {
    static let options = [
        OptionSpec("log-format", value: "FORMAT", help: "text, or json: one JSON object per log line ({\"time\", \"level\", \"command\", \"message\"}).", default: "text"),
    ]

    /// Switches `Terminal` to JSON lines when the command declares and is given `--log-format json`.
    static func apply(_ command: ParsedCommand) throws {
        guard command.command.option(named: "log-format") != nil else { return }
        switch try command.string("log-format") {
        case "text": Terminal.useJSONLines(command: nil)
        case "json": Terminal.useJSONLines(command: command.path.joined(separator: " "))
        case let other: throw UsageError(context: command.context, problem: "option '--log-format' expects text or json, got '\(other)'")
        }
    }
}

/// The log format `Terminal` writes: set once at start, read from any thread.
final class LogFormatState: @unchecked Sendable {
    private let lock = NSLock()
    private var jsonCommand: String?
    var json: String? { lock.withLock { jsonCommand } }
    func set(_ command: String?) { lock.withLock { jsonCommand = command } }

    /// One JSON object (sorted keys, no newlines inside) for a log line.
    static func line(level: String, command: String, message: String, now: Date = Date()) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let object: [String: String] = ["time": formatter.string(from: now), "level": level, "command": command, "message": message]
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            return #"{"level":"error","message":"unencodable log line"}"#
        }
        return String(decoding: data, as: UTF8.self)
    }
}
