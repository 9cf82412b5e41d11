/// A command-line usage mistake, such as an unknown option or a malformed value.
///
/// Its ``description`` is one line, `"<context>: <problem>"`, e.g.
/// `cohort simulate: option '--rounds' needs a value`. Print it to standard error and exit
/// with ``exitCode``.
public struct UsageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The exit status for usage errors.
    public static let usageExitCode: Int32 = 2

    /// The tool and command words the problem occurred in, e.g. `cohort bench train`.
    public let context: String
    /// What went wrong, naming the offending option, value or command.
    public let problem: String

    /// Creates an error for `problem` within `context`.
    public init(context: String, problem: String) {
        self.context = context
        self.problem = problem
    }

    /// The one-line message: `"<context>: <problem>"`.
    public var description: String { "\(context): \(problem)" }

    /// The process exit status to use: always ``usageExitCode`` (2).
    public var exitCode: Int32 { Self.usageExitCode }
}
