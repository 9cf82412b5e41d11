import CohortTensor
import Foundation

/// The `cohort` command line: its description and dispatch. `main.swift` only calls `main`.
public enum CohortTool {
    /// The version printed by `cohort --version`.
    public static let version = "0.1.0"

    /// Every command, with its options.
    public static let spec = ToolSpec(
        name: "cohort", version: version,
        summary: "Federated transfer learning: adapt a pre-trained model across sites whose data never leave them.",
        commands: [SimulateCommand.spec, DatagenCommand.spec, CoordinatorCommand.spec, NodeCommand.spec, ImportCommand.spec, ExportCommand.spec, BenchTrainCommand.spec, BenchGemmCommand.spec, BenchCodecCommand.spec, BenchAggregateCommand.spec, BenchLargeModelCommand.spec, BenchNodesCommand.spec, BenchPrivacyCommand.spec, BenchFederationCommand.spec, BenchCSVCommand.spec, BenchImagesCommand.spec, SchemaInferCommand.spec, DataSplitCommand.spec,
                   ModelSummaryCommand.spec, ModelInitCommand.spec, ModelDescribeCommand.spec, InfoCommand.spec,
                   PretrainCommand.spec, EvaluateCommand.spec, PredictCommand.spec, AggregateCommand.spec, AdaptCommand.spec, ShiftCommand.spec, RankCommand.spec, StatusCommand.spec])

    /// Parses `arguments` (without the program name), runs the command, and returns the exit
    /// status: 0 on success, 1 when the command failed, 2 for a usage error.
    public static func main(_ arguments: [String]) -> Int32 {
        HeapTuning.keepFreedMemory()
        do {
            switch try spec.parse(arguments) {
            case .help(_, let text):
                print(text)
                return 0
            case .version(let text):
                print(text)
                return 0
            case .run(let command):
                try run(command)
                return 0
            }
        } catch let error as UsageError {
            Terminal.error(error.description)
            return error.exitCode
        } catch {
            Terminal.error("cohort: \(error)")
            return 1
        }
    }

    private static func run(_ command: ParsedCommand) throws {
        try LogFormatOption.apply(command)
        switch command.path {
        case BenchTrainCommand.spec.path: try BenchTrainCommand.run(command)
        case BenchGemmCommand.spec.path: try BenchGemmCommand.run(command)
        case BenchCodecCommand.spec.path: try BenchCodecCommand.run(command)
        case BenchAggregateCommand.spec.path: try BenchAggregateCommand.run(command)
        case BenchLargeModelCommand.spec.path: try BenchLargeModelCommand.run(command)
        case BenchNodesCommand.spec.path: try BenchNodesCommand.run(command)
        case BenchPrivacyCommand.spec.path: try BenchPrivacyCommand.run(command)
        case BenchFederationCommand.spec.path: try BenchFederationCommand.run(command)
        case BenchCSVCommand.spec.path: try BenchCSVCommand.run(command)
        case BenchImagesCommand.spec.path: try BenchImagesCommand.run(command)
        case SchemaInferCommand.spec.path: try SchemaInferCommand.run(command)
        case DataSplitCommand.spec.path: try DataSplitCommand.run(command)
        case ModelSummaryCommand.spec.path: try ModelSummaryCommand.run(command)
        case ModelDescribeCommand.spec.path: try ModelDescribeCommand.run(command)
        case InfoCommand.spec.path: try InfoCommand.run(command)
        case ModelInitCommand.spec.path: try ModelInitCommand.run(command)
        case CoordinatorCommand.spec.path: try CoordinatorCommand.run(command)
        case NodeCommand.spec.path: try NodeCommand.run(command)
        case ImportCommand.spec.path: try ImportCommand.run(command)
        case ExportCommand.spec.path: try ExportCommand.run(command)
        case SimulateCommand.spec.path: try SimulateCommand.run(command)
        case PretrainCommand.spec.path: try PretrainCommand.run(command)
        case EvaluateCommand.spec.path: try EvaluateCommand.run(command)
        case PredictCommand.spec.path: try PredictCommand.run(command)
        case AggregateCommand.spec.path: try AggregateCommand.run(command)
        case DatagenCommand.spec.path: try DatagenCommand.run(command)
        case AdaptCommand.spec.path: try AdaptCommand.run(command)
        case ShiftCommand.spec.path: try ShiftCommand.run(command)
        case RankCommand.spec.path: try RankCommand.run(command)
        case StatusCommand.spec.path: try StatusCommand.run(command)
        default: throw UsageError(context: command.context, problem: "is not implemented")
        }
    }
}

/// Writing to the terminal and files: results to stdout, progress and errors to stderr.
enum Terminal {
    private static let format = LogFormatState()

    /// From now on write progress and errors as JSON lines naming `command` (nil: plain text).
    static func useJSONLines(command: String?) { format.set(command) }

    static func error(_ line: String) { write(line, level: "error") }

    static func progress(_ line: String) { write(line, level: "info") }

    private static func write(_ line: String, level: String) {
        let text = format.json.map { LogFormatState.line(level: level, command: $0, message: line) } ?? line
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Pretty JSON of `value`, with sorted keys.
    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Prints `text` to stdout, and also writes it to `path` when given (atomically).
    static func emit(_ text: String, to path: String?) throws {
        print(text)
        if let path {
            do { try Data((text + "\n").utf8).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
                throw CommandError("cannot write '\(path)': \(error.localizedDescription)")
            }
        }
    }
}

/// A command failure with a message for the user (exit status 1).
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
