/// What the command line asks for.
public enum ParseOutcome: Sendable, Equatable {
    /// Print `text` to standard output and exit successfully. `topic` is the path the help
    /// is about: empty for the tool, e.g. `["bench"]` for a group, `["bench", "train"]` for a command.
    case help(topic: [String], text: String)
    /// Print `text` (the tool name and version) to standard output and exit successfully.
    case version(String)
    /// Run a command with its parsed values.
    case run(ParsedCommand)
}
