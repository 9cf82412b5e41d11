import CohortNN
import Foundation

/// `cohort model summary`: builds a model from its JSON description and lists its layers,
/// output shapes and named parameters.
enum ModelSummaryCommand {
    static let spec = CommandSpec(
        ["model", "summary"], summary: "Build a model from an architecture JSON and list layers, shapes and parameter names.",
        discussion: "The JSON holds inputShape and layers (kind, name, units, kernel, ...); see README. Errors name the layer at fault.",
        options: ArchitectureOptions.options + [
            OptionSpec("seed", value: "N", help: "Seed for the initial weights.", default: "0"),
            .flag("json", help: "Print the parameter list as JSON."),
        ])

    struct Row: Codable {
        var name: String
        var shape: [Int]
        var trainable: Bool
    }

    static func run(_ command: ParsedCommand) throws {
        let (spec, path) = try ArchitectureOptions.load(command)
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
        let width = max(22, (model.layers.map(\.name.count).max() ?? 0) + 2)
        var lines = ["layer".padding(toLength: width, withPad: " ", startingAt: 0) + "kind              output shape      parameters  inputs"]
        for (i, layer) in model.layers.enumerated() {
            let shape = try model.shape(after: i + 1)
            let count = layer.parameters.reduce(0) { $0 + $1.value.count }
            let sources = model.wiring[i] == [i - 1] ? "" : model.wiring[i].map { $0 < 0 ? "input" : model.layers[$0].name }.joined(separator: ", ")
            lines.append(layer.name.padding(toLength: width, withPad: " ", startingAt: 0)
                         + layer.spec.kind.rawValue.padding(toLength: 18, withPad: " ", startingAt: 0)
                         + "\(shape)".padding(toLength: 18, withPad: " ", startingAt: 0)
                         + "\(count)".padding(toLength: 12, withPad: " ", startingAt: 0) + sources)
        }
        lines.append("input \(spec.inputShape), \(model.layers.count) layers, \(model.parameterCount) parameters")
        print(lines.joined(separator: "\n"))
    }
}
