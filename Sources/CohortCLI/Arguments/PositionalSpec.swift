/// A positional argument of a command, such as `<config>`.
///
/// Positionals are filled in declaration order. Only the last one may be variadic, and
/// optional ones must follow all required ones.
public struct PositionalSpec: Sendable, Equatable {
    /// Name shown in help as `<name>` and used to read the value back.
    public let name: String
    /// One-line help text.
    public let help: String
    /// Whether the argument takes all remaining positional values.
    public let isVariadic: Bool
    /// Whether the argument may be left out. A required variadic argument needs at least one value.
    public let isOptional: Bool

    /// Declares a positional argument.
    ///
    /// - Parameters:
    ///   - name: The name shown in help as `<name>`.
    ///   - help: One-line help text.
    ///   - variadic: Whether it takes all remaining positional values.
    ///   - optional: Whether it may be left out.
    public init(_ name: String, help: String, variadic: Bool = false, optional: Bool = false) {
        precondition(CommandWord.isValid(name), "positional name '\(name)' must be a non-empty word without spaces or '='")
        self.name = name
        self.help = help
        self.isVariadic = variadic
        self.isOptional = optional
    }

    /// The argument as shown in usage lines: `<name>`, `[<name>]`, `<name> ...` or `[<name> ...]`.
    public var usage: String {
        let core = isVariadic ? "<\(name)> ..." : "<\(name)>"
        return isOptional ? "[\(core)]" : core
    }
}
