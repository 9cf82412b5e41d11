import CohortNN
import Foundation

/// `cohort model describe`: writes the architecture JSON of a preset (or normalises a file).
enum ModelDescribeCommand {
    static let spec = CommandSpec(
        ["model", "describe"], summary: "Write the architecture JSON of a preset (or of --arch, checked and normalised).",
        discussion: """
        The description is checked whole (wiring, every field, sizes) before it is written. Example: \
        cohort model describe --preset resnet18 --classes 3 --input 64x64x3 --out resnet18.json
        """,
        options: ArchitectureOptions.options + [
            OptionSpec("out", value: "FILE", help: "File to write (default: standard output)."),
        ])

    static func run(_ command: ParsedCommand) throws {
        let (spec, origin) = try ArchitectureOptions.load(command)
        let checked: ModelSpec
        do { checked = try Sequential.check(spec) } catch { throw CommandError("\(origin): \(error)") }
        let json = checked.encodedJSON()
        if command.isSet("out") {
            let out = try command.string("out")
            do { try json.write(to: URL(fileURLWithPath: out), options: .atomic) } catch { throw CommandError("cannot write '\(out)': \(error)") }
            Terminal.progress("wrote \(out): \(checked.layers.count) nodes from \(origin)")
        } else {
            print(String(decoding: json, as: UTF8.self))
        }
    }
}
