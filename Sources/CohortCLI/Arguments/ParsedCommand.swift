/// A command selected on the command line together with its option and positional values.
///
/// Typed accessors fall back to the option's declared default and throw a one-line
/// ``UsageError`` when a value is malformed, out of range or missing. Asking for an option or
/// positional the command does not declare, or using the wrong accessor kind (for example
/// ``flag(_:)`` on a valued option), is a programming error and stops with a precondition failure.
public struct ParsedCommand: Sendable, Equatable {
    /// The tool name, used to prefix error messages.
    public let toolName: String
    /// The declaration of the selected command.
    public let command: CommandSpec
    /// Values given on the command line, by option name; flags map to an empty list.
    public let givenOptions: [String: [String]]
    /// Values of the positional arguments, by positional name (absent optional ones are missing).
    public let givenPositionals: [String: [String]]

    /// Creates a parsed command from already-split values (the parser does this; it is public
    /// so callers can construct commands in tests).
    public init(toolName: String, command: CommandSpec,
                givenOptions: [String: [String]], givenPositionals: [String: [String]]) {
        self.toolName = toolName
        self.command = command
        self.givenOptions = givenOptions
        self.givenPositionals = givenPositionals
    }

    /// The words selecting the command, e.g. `["bench", "train"]`.
    public var path: [String] { command.path }

    /// The prefix of error messages, e.g. `cohort bench train`.
    public var context: String { ([toolName] + command.path).joined(separator: " ") }

    /// Whether the option was given on the command line (defaults do not count).
    public func isSet(_ name: String) -> Bool {
        _ = spec(name)
        return givenOptions[name] != nil
    }

    /// Whether the boolean flag `--name` was given.
    public func flag(_ name: String) -> Bool {
        let option = spec(name)
        precondition(option.isFlag, "'\(option.spelling)' takes a value; read it with string(_:) or a typed accessor, not flag(_:)")
        return givenOptions[name] != nil
    }

    /// The value of a single-valued option, or its default.
    ///
    /// - Throws: ``UsageError`` `missing required option '--name'` when it was not given and has no default.
    public func string(_ name: String) throws(UsageError) -> String {
        let option = spec(name)
        precondition(!option.isFlag, "'\(option.spelling)' is a flag; read it with flag(_:)")
        precondition(!option.isRepeatable, "'\(option.spelling)' is repeatable; read it with strings(_:)")
        if let value = givenOptions[name]?.last ?? option.defaultValue { return value }
        throw error("missing required option '\(option.spelling)'")
    }

    /// All values of an option (usually a repeatable one); the default as a one-element list
    /// when not given, or an empty list when there is no default either.
    public func strings(_ name: String) -> [String] {
        let option = spec(name)
        precondition(!option.isFlag, "'\(option.spelling)' is a flag; read it with flag(_:)")
        if let values = givenOptions[name] { return values }
        return option.defaultValue.map { [$0] } ?? []
    }

    /// The value of an option as an integer.
    ///
    /// - Throws: ``UsageError`` `option '--name' expects an integer, got 'x'`, or missing option.
    public func int(_ name: String) throws(UsageError) -> Int {
        try parseInt(try string(name), option: spec(name))
    }

    /// The value of an option as an integer within `range`.
    ///
    /// - Throws: ``UsageError`` such as `option '--rounds' must be between 1 and 100, got 0`.
    public func int(_ name: String, range: ClosedRange<Int>) throws(UsageError) -> Int {
        let value = try int(name)
        try check(value, lower: range.lowerBound, upper: range.upperBound, option: spec(name))
        return value
    }

    /// The value of an option as an integer of at least `range.lowerBound`, e.g. `range: 1...`.
    ///
    /// - Throws: ``UsageError`` such as `option '--threads' must be at least 1, got 0`.
    public func int(_ name: String, range: PartialRangeFrom<Int>) throws(UsageError) -> Int {
        try int(name, range: range.lowerBound...Int.max)
    }

    /// All values of an option as integers (see ``strings(_:)`` for defaults).
    public func ints(_ name: String) throws(UsageError) -> [Int] {
        let option = spec(name)
        var result: [Int] = []
        for text in strings(name) { result.append(try parseInt(text, option: option)) }
        return result
    }

    /// All values of an option as integers, each within `range`.
    public func ints(_ name: String, range: ClosedRange<Int>) throws(UsageError) -> [Int] {
        let values = try ints(name)
        for value in values { try check(value, lower: range.lowerBound, upper: range.upperBound, option: spec(name)) }
        return values
    }

    /// All values of an option as integers, each at least `range.lowerBound`.
    public func ints(_ name: String, range: PartialRangeFrom<Int>) throws(UsageError) -> [Int] {
        try ints(name, range: range.lowerBound...Int.max)
    }

    /// The value of an option as a finite floating-point number.
    ///
    /// - Throws: ``UsageError`` `option '--lr' expects a number, got 'x'`, or missing option.
    public func double(_ name: String) throws(UsageError) -> Double {
        let option = spec(name)
        let text = try string(name)
        guard let value = Double(text), value.isFinite else {
            throw error("option '\(option.spelling)' expects a number, got '\(text)'")
        }
        return value
    }

    /// The value of an option as a number within `range`.
    ///
    /// - Throws: ``UsageError`` such as `option '--lr' must be between 0.0 and 1.0, got 2.0`.
    public func double(_ name: String, range: ClosedRange<Double>) throws(UsageError) -> Double {
        let value = try double(name)
        guard range.contains(value) else {
            let text = try string(name)
            throw error("option '\(spec(name).spelling)' must be between \(range.lowerBound) and \(range.upperBound), got \(text)")
        }
        return value
    }

    /// The value of a non-variadic positional argument; `nil` only for an absent optional one.
    public func positional(_ name: String) -> String? {
        let positional = positionalSpec(name)
        precondition(!positional.isVariadic, "positional '\(name)' is variadic; read it with positionals(_:)")
        return givenPositionals[name]?.first
    }

    /// The values of a positional argument (all of them for a variadic one; empty when absent).
    public func positionals(_ name: String) -> [String] {
        _ = positionalSpec(name)
        return givenPositionals[name] ?? []
    }

    // MARK: - Helpers

    private func spec(_ name: String) -> OptionSpec {
        guard let option = command.option(named: name) else {
            preconditionFailure("command '\(command.path.joined(separator: " "))' declares no option '--\(name)'")
        }
        return option
    }

    private func positionalSpec(_ name: String) -> PositionalSpec {
        guard let positional = command.positional(named: name) else {
            preconditionFailure("command '\(command.path.joined(separator: " "))' declares no positional '\(name)'")
        }
        return positional
    }

    private func parseInt(_ text: String, option: OptionSpec) throws(UsageError) -> Int {
        guard let value = Int(text) else {
            throw error("option '\(option.spelling)' expects an integer, got '\(text)'")
        }
        return value
    }

    private func check(_ value: Int, lower: Int, upper: Int, option: OptionSpec) throws(UsageError) {
        guard value < lower || value > upper else { return }
        let bound: String
        if upper == Int.max {
            bound = "at least \(lower)"
        } else if lower == Int.min {
            bound = "at most \(upper)"
        } else {
            bound = "between \(lower) and \(upper)"
        }
        throw error("option '\(option.spelling)' must be \(bound), got \(value)")
    }

    private func error(_ problem: String) -> UsageError {
        UsageError(context: context, problem: problem)
    }
}
