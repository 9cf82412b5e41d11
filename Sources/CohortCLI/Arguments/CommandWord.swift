/// Validation of the words used for command names, option names and positional names.
enum CommandWord {
    /// A word is non-empty, does not start with `-`, and contains no whitespace or `=`.
    static func isValid(_ word: String) -> Bool {
        !word.isEmpty && !word.hasPrefix("-") && !word.contains { $0.isWhitespace || $0 == "=" }
    }
}
