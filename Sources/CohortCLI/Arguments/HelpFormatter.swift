/// Generates the help texts of a ``ToolSpec``: top level, group and command.
struct HelpFormatter {
    typealias Row = (label: String, text: String)

    let tool: ToolSpec

    private static let helpRow: Row = ("-h, --help", "Show help information.")

    /// Tool name and version, summary, usage, every command with its summary, and the global options.
    func topLevelHelp() -> String {
        var out: [String] = ["\(tool.name) \(tool.version)", ""]
        out += TextLayout.wrap(tool.summary, width: TextLayout.width)
        out += ["", "USAGE: \(tool.name) <command> [<options>]", ""]
        out += TextLayout.sections([
            ("COMMANDS:", tool.commands.map { ($0.path.joined(separator: " "), $0.summary) }),
            ("OPTIONS:", [Self.helpRow, ("--version", "Show the version.")]),
        ])
        out += ["", "Run '\(tool.name) help <command>' or '\(tool.name) <command> --help' for a command's options."]
        return out.joined(separator: "\n") + "\n"
    }

    /// Usage and the subcommands of a group, with paths relative to the group.
    func groupHelp(_ group: [String]) -> String {
        let prefix = ([tool.name] + group).joined(separator: " ")
        var out: [String] = ["USAGE: \(prefix) <subcommand> [<options>]", ""]
        out += TextLayout.sections([
            ("SUBCOMMANDS:", tool.commands(under: group).map {
                ($0.path.dropFirst(group.count).joined(separator: " "), $0.summary)
            }),
            ("OPTIONS:", [Self.helpRow]),
        ])
        out += ["", "Run '\(prefix) <subcommand> --help' for a subcommand's options."]
        return out.joined(separator: "\n") + "\n"
    }

    /// Summary, discussion, usage line, positional arguments and options with value names and defaults.
    func commandHelp(_ command: CommandSpec) -> String {
        let name = ([tool.name] + command.path).joined(separator: " ")
        var out: [String] = TextLayout.wrap("\(name): \(command.summary)", width: TextLayout.width)
        if let discussion = command.discussion {
            out.append("")
            out += TextLayout.wrap(discussion, width: TextLayout.width)
        }
        var usage = ["USAGE:", name]
        if !command.options.isEmpty { usage.append("[<options>]") }
        usage += command.positionals.map(\.usage)
        out += ["", usage.joined(separator: " "), ""]
        var sections: [(title: String, rows: [Row])] = []
        if !command.positionals.isEmpty {
            sections.append(("ARGUMENTS:", command.positionals.map { ($0.usage, $0.help) }))
        }
        sections.append(("OPTIONS:", command.options.map { (Self.label($0), Self.text($0)) } + [Self.helpRow]))
        out += TextLayout.sections(sections)
        return out.joined(separator: "\n") + "\n"
    }

    /// `--verbose`, `--rounds <N>`, `--models <path> ...`.
    private static func label(_ option: OptionSpec) -> String {
        guard let valueName = option.valueName else { return option.spelling }
        return "\(option.spelling) <\(valueName)>" + (option.isRepeatable ? " ..." : "")
    }

    /// Help text with the default appended.
    private static func text(_ option: OptionSpec) -> String {
        guard let defaultValue = option.defaultValue else { return option.help }
        return option.help + " (default: \(defaultValue))"
    }
}
