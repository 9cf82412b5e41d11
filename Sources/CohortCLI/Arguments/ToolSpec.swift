/// A declarative description of a command-line tool: its name, version, summary and commands.
///
/// Parse arguments with ``parse(_:)``; help text comes from ``helpText(for:)``.
public struct ToolSpec: Sendable, Equatable {
    /// The program name used in usage lines and error messages, e.g. `cohort`.
    public let name: String
    /// The version string printed by `--version`.
    public let version: String
    /// A one-paragraph summary shown at the top of the top-level help.
    public let summary: String
    /// All runnable commands, in help order.
    public let commands: [CommandSpec]

    /// Declares a tool.
    ///
    /// Command paths must be unique and no path may be a prefix of another (a group such as
    /// `bench` is implied by `bench train` and cannot itself be run). The top-level word
    /// `help` is reserved for `help <command>`.
    public init(name: String, version: String, summary: String, commands: [CommandSpec]) {
        precondition(!name.isEmpty, "a tool needs a name")
        for (i, a) in commands.enumerated() {
            precondition(a.path.first != "help", "the top-level command word 'help' is reserved")
            for b in commands[(i + 1)...] {
                let shorter = min(a.path.count, b.path.count)
                precondition(Array(a.path.prefix(shorter)) != Array(b.path.prefix(shorter)),
                             "command paths '\(a.path.joined(separator: " "))' and "
                                 + "'\(b.path.joined(separator: " "))' clash: one is a prefix of the other")
            }
        }
        self.name = name
        self.version = version
        self.summary = summary
        self.commands = commands
    }

    /// The command whose path is exactly `path`, if any.
    public func command(at path: [String]) -> CommandSpec? {
        commands.first { $0.path == path }
    }

    /// The commands whose paths start with `group` (all commands for an empty group).
    public func commands(under group: [String]) -> [CommandSpec] {
        commands.filter { $0.path.count > group.count && Array($0.path.prefix(group.count)) == group }
    }

    /// Whether `path` names a group: a strict prefix of at least one command path.
    /// The empty path is the top-level group.
    public func isGroup(_ path: [String]) -> Bool {
        !commands(under: path).isEmpty
    }

    /// The text printed by `--version`, e.g. `cohort 0.3.0`.
    public var versionText: String { "\(name) \(version)" }

    /// The generated help for the tool (empty path), a group or a command; `nil` when `path`
    /// names neither a group nor a command.
    public func helpText(for path: [String] = []) -> String? {
        let formatter = HelpFormatter(tool: self)
        if path.isEmpty { return formatter.topLevelHelp() }
        if let command = command(at: path) { return formatter.commandHelp(command) }
        if isGroup(path) { return formatter.groupHelp(path) }
        return nil
    }

    /// Parses the command-line arguments (without the program name).
    ///
    /// - Returns: Help or version text to print, or the command to run with its values.
    /// - Throws: ``UsageError`` with a one-line message naming the problem.
    public func parse(_ arguments: [String]) throws(UsageError) -> ParseOutcome {
        try CommandLineParser(tool: self).parse(arguments)
    }
}
