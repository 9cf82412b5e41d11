import CohortNN
import Foundation

/// The options naming a model architecture, shared by every command that builds one:
/// `--arch FILE` (a description) or `--preset NAME` with `--classes`, `--input` and knobs.
enum ArchitectureOptions {
    static let options: [OptionSpec] = [
        OptionSpec("arch", value: "FILE", help: "Architecture description (JSON, protocols/model-description.md)."),
        OptionSpec("preset", value: "NAME", help: "A published architecture instead of --arch: \(ModelPreset.allCases.map(\.rawValue).joined(separator: ", "))."),
        OptionSpec("classes", value: "N", help: "With --preset: classes of the new head."),
        OptionSpec("input", value: "HxWxC", help: "With --preset: input height x width x channels.", default: "224x224x3"),
        OptionSpec("preset-options", value: "JSON", help: "With --preset: size knobs, e.g. '{\"width\":32}' or '{\"patchSize\":8}'."),
    ]

    /// Whether the command was given an architecture (either way).
    static func isGiven(_ command: ParsedCommand) -> Bool { command.isSet("arch") || command.isSet("preset") }

    /// The architecture the command names, and a short text saying where it came from.
    static func load(_ command: ParsedCommand) throws -> (spec: ModelSpec, origin: String) {
        guard command.isSet("arch") != command.isSet("preset") else {
            throw UsageError(context: command.context, problem: "give exactly one of --arch FILE or --preset NAME")
        }
        if command.isSet("arch") {
            let path = try command.string("arch")
            guard let data = FileManager.default.contents(atPath: path) else { throw CommandError("cannot read architecture file '\(path)'") }
            do { return (try ModelSpec.decode(json: data), path) } catch { throw CommandError("\(path): \(error)") }
        }
        let name = try command.string("preset")
        guard command.isSet("classes") else { throw UsageError(context: command.context, problem: "--preset needs --classes N") }
        var options = PresetOptions(classes: try command.int("classes", range: 1...(1 << 20)), inputShape: try inputShape(command))
        if command.isSet("preset-options") {
            let text = try command.string("preset-options")
            do {
                let knobs = try JSONDecoder().decode(PresetKnobs.self, from: Data(text.utf8))
                knobs.apply(to: &options)
            } catch {
                throw UsageError(context: command.context, problem: "--preset-options is not a JSON object of known knobs (\(PresetKnobs.names)): \(error)")
            }
        }
        do {
            let preset = try ModelPreset.named(name)
            return (try preset.spec(options), "preset \(name)")
        } catch { throw CommandError("\(error)") }
    }

    /// `--input HxWxC` as `[H, W, C]`.
    static func inputShape(_ command: ParsedCommand) throws -> [Int] {
        let text = try command.string("input")
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 3, parts.allSatisfy({ $0 != nil && $0! >= 1 && $0! <= 65536 }) else {
            throw UsageError(context: command.context, problem: "--input must be HxWxC with sizes in 1...65536, got '\(text)'")
        }
        return parts.map { $0! }
    }
}
