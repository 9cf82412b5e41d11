import CohortNN
import Foundation

/// `cohort model summary`: builds a model from its JSON description and lists its layers,
/// output shapes and named parameters.
enum ModelSummaryCommand {
    static let spec = CommandSpec(
        ["model", "summary"], summary: "Build a model from an architecture JSON and list layers, shapes and parameter names.",
        discussion: "The JSON holds inputShape and layers (kind, name, units, kernel, ...); see README. Errors name the layer at fault.",
        options: [
            OptionSpec("arch", value: "FILE", help: "Architecture description (JSON)."),
            OptionSpec("seed", value: "N", help: "Seed for the initial weights.", default: "0"),
            .flag("json", help: "Print the parameter list as JSON."),
        ])

    struct Row: Codable {
        var name: String
        var shape: [Int]
        var trainable: Bool
    }

    static func run(_ command: ParsedCommand) throws {
        let path = try command.string("arch")
        guard let data = FileManager.default.contents(atPath: path) else { throw CommandError("cannot read architecture file '\(path)'") }
        let spec: ModelSpec
        do { spec = try ModelSpec.decode(json: data) } catch { throw CommandError("\(path): \(error)") }
        let model: Sequential
        do { model = try Sequential(spec: spec, seed: UInt64(try command.int("seed", range: 0...))) } catch {
            throw CommandError("\(path): \(error)")
        }
        if command.flag("json") {
            let trainable = Set(model.trainableParameters.map(\.name))
            let rows = model.stateDict().map { Row(name: $0.name, shape: $0.value.shape, trainable: trainable.contains($0.name)) }
            print(try Terminal.json(rows))
            return
        }
        var lines = ["layer                 kind              output shape      parameters"]
        var shape = spec.inputShape
        for layer in model.layers {
            shape = try layer.outputShape(for: shape)
            let count = layer.parameters.reduce(0) { $0 + $1.value.count }
            lines.append(layer.name.padding(toLength: 22, withPad: " ", startingAt: 0)
                         + layer.spec.kind.rawValue.padding(toLength: 18, withPad: " ", startingAt: 0)
                         + "\(shape)".padding(toLength: 18, withPad: " ", startingAt: 0) + "\(count)")
        }
        lines.append("input \(spec.inputShape), \(model.layers.count) layers, \(model.parameterCount) parameters")
        print(lines.joined(separator: "\n"))
    }
}
