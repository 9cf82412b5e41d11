/// One runnable command of a tool, such as `simulate` or `bench train`.
///
/// The `path` is the sequence of words that selects the command. Commands sharing a
/// leading word (`bench train`, `bench gemm`) form an implicit group whose help lists them.
public struct CommandSpec: Sendable, Equatable {
    /// The words selecting this command, e.g. `["bench", "train"]`.
    public let path: [String]
    /// One-line summary shown in command lists and at the top of the command's help.
    public let summary: String
    /// Optional longer text shown in the command's help below the summary.
    public let discussion: String?
    /// The `--name` options the command accepts, in help order.
    public let options: [OptionSpec]
    /// The positional arguments, in order.
    public let positionals: [PositionalSpec]

    /// Declares a command.
    ///
    /// - Parameters:
    ///   - path: The words selecting the command, e.g. `["bench", "train"]`.
    ///   - summary: One-line summary.
    ///   - discussion: Optional longer description for the command's help.
    ///   - options: The options; names must be unique.
    ///   - positionals: The positional arguments; only the last may be variadic and optional
    ///     ones must come after required ones.
    public init(_ path: [String], summary: String, discussion: String? = nil,
                options: [OptionSpec] = [], positionals: [PositionalSpec] = []) {
        precondition(!path.isEmpty, "a command needs a non-empty path")
        for word in path {
            precondition(CommandWord.isValid(word),
                         "command word '\(word)' in \(path) must be a non-empty word not starting with '-'")
        }
        var seen = Set<String>()
        for option in options {
            precondition(seen.insert(option.name).inserted,
                         "command '\(path.joined(separator: " "))' declares option '--\(option.name)' twice")
        }
        var seenPositionals = Set<String>()
        for (index, positional) in positionals.enumerated() {
            precondition(seenPositionals.insert(positional.name).inserted,
                         "command '\(path.joined(separator: " "))' declares positional '\(positional.name)' twice")
            precondition(!positional.isVariadic || index == positionals.count - 1,
                         "command '\(path.joined(separator: " "))': only the last positional may be variadic")
            precondition(positional.isOptional || positionals[..<index].allSatisfy { !$0.isOptional },
                         "command '\(path.joined(separator: " "))': required positional '\(positional.name)' follows an optional one")
        }
        self.path = path
        self.summary = summary
        self.discussion = discussion
        self.options = options
        self.positionals = positionals
    }

    /// The option named `name` (without dashes), if declared.
    public func option(named name: String) -> OptionSpec? {
        options.first { $0.name == name }
    }

    /// The positional argument named `name`, if declared.
    public func positional(named name: String) -> PositionalSpec? {
        positionals.first { $0.name == name }
    }
}
