/// Turns an argument list into a ``ParseOutcome`` for one ``ToolSpec``.
///
/// Rules: leading words select a command (or group); `--help`/`-h` anywhere before `--`
/// asks for help on what has been selected so far; `--version` is accepted as the first
/// argument; `help <words>` shows help for a group or command. After the command words,
/// `--name value` and `--name=value` set options, a lone `--` makes every later token
/// positional, and tokens that do not start with `-` (or look like negative numbers) are
/// positional.
struct CommandLineParser {
    let tool: ToolSpec

    func parse(_ arguments: [String]) throws(UsageError) -> ParseOutcome {
        guard let first = arguments.first else { return help([]) }
        if Self.isHelp(first) { return help([]) }
        if first == "--version" { return .version(tool.versionText) }
        if first == "help" { return try helpTopic(Array(arguments.dropFirst())) }

        // Select the command: consume words while they continue a group.
        var path: [String] = []
        var index = 0
        while tool.command(at: path) == nil {
            guard index < arguments.count else { return help(path) }
            let token = arguments[index]
            if Self.isHelp(token) { return help(path) }
            if token.hasPrefix("-") {
                throw groupError(path, "unknown option '\(Self.optionName(token))'")
            }
            guard tool.isGroup(path + [token]) || tool.command(at: path + [token]) != nil else {
                throw groupError(path, "unknown command '\(token)'")
            }
            path.append(token)
            index += 1
        }
        let command = tool.command(at: path)!
        let rest = Array(arguments[index...])
        if rest.prefix(while: { $0 != "--" }).contains(where: Self.isHelp) { return help(path) }
        return .run(try parseCommand(command, rest))
    }

    // MARK: - Help

    private static func isHelp(_ token: String) -> Bool { token == "--help" || token == "-h" }

    private func help(_ path: [String]) -> ParseOutcome {
        .help(topic: path, text: tool.helpText(for: path)!)
    }

    /// `help`, `help bench`, `help bench train`.
    private func helpTopic(_ words: [String]) throws(UsageError) -> ParseOutcome {
        guard tool.helpText(for: words) != nil else {
            throw UsageError(context: "\(tool.name) help",
                             problem: "unknown command '\(words.joined(separator: " "))' (run '\(tool.name) --help')")
        }
        return help(words)
    }

    private func groupError(_ path: [String], _ problem: String) -> UsageError {
        let context = ([tool.name] + path).joined(separator: " ")
        return UsageError(context: context, problem: "\(problem) (run '\(context) --help')")
    }

    /// The option part of a token, dropping any `=value`.
    private static func optionName(_ token: String) -> String {
        token.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? token
    }

    // MARK: - Options and positionals

    private func parseCommand(_ command: CommandSpec, _ tokens: [String]) throws(UsageError) -> ParsedCommand {
        let context = ([tool.name] + command.path).joined(separator: " ")
        func fail(_ problem: String) -> UsageError { UsageError(context: context, problem: problem) }

        var options: [String: [String]] = [:]
        var positionals: [String] = []
        var i = 0
        while i < tokens.count {
            let token = tokens[i]
            i += 1
            if token == "--" {
                positionals.append(contentsOf: tokens[i...])
                break
            }
            if !token.hasPrefix("-") || token == "-" || Double(token) != nil {
                positionals.append(token)
                continue
            }
            let name = Self.optionName(token)
            let inlineValue: String? = name.count < token.count ? String(token.dropFirst(name.count + 1)) : nil
            if name == "--help", let inlineValue { throw fail("flag '--help' takes no value, got '\(inlineValue)'") }
            guard name.hasPrefix("--"), let option = command.option(named: String(name.dropFirst(2))) else {
                throw fail("unknown option '\(name)' (\(suggestion(for: name, in: command, context: context)))")
            }
            if option.isFlag {
                if let inlineValue { throw fail("flag '\(option.spelling)' takes no value, got '\(inlineValue)'") }
                options[option.name] = []
                continue
            }
            if options[option.name] != nil && !option.isRepeatable {
                throw fail("option '\(option.spelling)' was given more than once")
            }
            var values: [String] = []
            if let inlineValue {
                values.append(inlineValue)
            } else if option.isRepeatable {
                while i < tokens.count && !tokens[i].hasPrefix("--") {
                    values.append(tokens[i])
                    i += 1
                }
            } else if i < tokens.count && !tokens[i].hasPrefix("--") {
                values.append(tokens[i])
                i += 1
            }
            guard !values.isEmpty else { throw fail("option '\(option.spelling)' needs a value") }
            options[option.name, default: []].append(contentsOf: values)
        }
        return ParsedCommand(toolName: tool.name, command: command, givenOptions: options,
                             givenPositionals: try assign(positionals, to: command.positionals, fail: fail))
    }

    /// Distributes positional tokens over the declared positionals, in order.
    private func assign(_ values: [String], to specs: [PositionalSpec],
                        fail: (String) -> UsageError) throws(UsageError) -> [String: [String]] {
        var result: [String: [String]] = [:]
        var next = 0
        for spec in specs {
            let remaining = values.count - next
            if spec.isVariadic {
                if remaining == 0 && !spec.isOptional { throw fail("missing required argument '<\(spec.name)>'") }
                if remaining > 0 { result[spec.name] = Array(values[next...]) }
                next = values.count
            } else if remaining > 0 {
                result[spec.name] = [values[next]]
                next += 1
            } else if !spec.isOptional {
                throw fail("missing required argument '<\(spec.name)>'")
            }
        }
        if next < values.count { throw fail("unexpected argument '\(values[next])'") }
        return result
    }

    /// `did you mean '--threads'?` for a close option name, else a pointer to the help.
    private func suggestion(for typed: String, in command: CommandSpec, context: String) -> String {
        let bare = String(typed.drop(while: { $0 == "-" }))
        let names = command.options.map(\.name) + ["help"]
        if let best = NameSuggestion.closest(to: bare, among: names) {
            return "did you mean '--\(best)'?"
        }
        return "run '\(context) --help'"
    }
}
