/// Flags that exist only for tests (they weaken what the run protects: dump vectors to disk,
/// drop out on purpose, reveal corrupted shares). A command refuses them unless `--insecure` is
/// also given, and prints a loud warning for each one used.
enum TestingFlags {
    /// Checks the testing flags among `names` that `command` sets; throws a usage error naming
    /// the first one when `--insecure` is absent.
    static func check(_ command: ParsedCommand, _ names: [String]) throws {
        let used = names.filter(command.isSet)
        guard let first = used.first else { return }
        guard command.flag("insecure") else {
            throw UsageError(context: command.context, problem: "--\(first) is for testing only and needs --insecure (it weakens the run's privacy)")
        }
        for name in used {
            Terminal.error("WARNING: --\(name) is a TESTING flag: it weakens secure aggregation and privacy. Never use it with real data.")
        }
    }
}
