/// One `--name` option of a command: either a boolean flag or an option taking a value.
///
/// An option with a `valueName` takes one value, written `--rounds 10` or `--rounds=10`.
/// A repeatable option collects a list: `--models a.ckpt b.ckpt` consumes values until the
/// next token starting with `--`, and the flag may also be given again (`--models a --models b`).
/// An option without a `valueName` is a boolean flag and accepts no value.
public struct OptionSpec: Sendable, Equatable {
    /// The long name without its leading dashes: `rounds` for `--rounds`.
    public let name: String
    /// Placeholder for the value shown in help, such as `N`; `nil` makes the option a flag.
    public let valueName: String?
    /// One-line help text.
    public let help: String
    /// The value used when the option is not given; shown in help as `(default: …)`.
    /// For a repeatable option the default is a one-element list.
    public let defaultValue: String?
    /// Whether the option collects several values (see the type's documentation).
    public let isRepeatable: Bool

    /// Declares an option.
    ///
    /// - Parameters:
    ///   - name: The long name without dashes, e.g. `"rounds"`; `"help"` is reserved.
    ///   - valueName: Placeholder for the value, e.g. `"N"`; `nil` declares a boolean flag.
    ///   - help: One-line help text.
    ///   - defaultValue: Value used when the option is absent; flags cannot have one.
    ///   - repeatable: Whether the option collects a list of values; flags cannot be repeatable.
    public init(_ name: String, value valueName: String? = nil, help: String,
                default defaultValue: String? = nil, repeatable: Bool = false) {
        precondition(!name.hasPrefix("-"),
                     "option name '\(name)' must be given without leading dashes")
        precondition(CommandWord.isValid(name), "option name '\(name)' must be a non-empty word without spaces or '='")
        precondition(name != "help", "option name 'help' is reserved for the generated --help")
        if let valueName {
            precondition(!valueName.isEmpty, "option '--\(name)' has an empty value name")
        } else {
            precondition(defaultValue == nil, "flag '--\(name)' cannot have a default value")
            precondition(!repeatable, "flag '--\(name)' cannot be repeatable")
        }
        self.name = name
        self.valueName = valueName
        self.help = help
        self.defaultValue = defaultValue
        self.isRepeatable = repeatable
    }

    /// Declares a boolean flag such as `--verbose`.
    public static func flag(_ name: String, help: String) -> OptionSpec {
        OptionSpec(name, help: help)
    }

    /// Whether this is a boolean flag (it has no value name).
    public var isFlag: Bool { valueName == nil }

    /// The option as typed on the command line, e.g. `--rounds`.
    public var spelling: String { "--" + name }
}
