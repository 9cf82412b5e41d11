import CohortBench
import Foundation

/// `cohort bench codec`: size, speed and error of the delta codec chains on a fine-tuning delta.
enum BenchCodecCommand {
    static let spec = CommandSpec(
        ["bench", "codec"], summary: "Delta codec chains: bytes, ratio vs float32, encode/decode MB/s, relative L2 error.",
        discussion: """
        Fine-tunes an MLP of about --params parameters (784 → h → 3h/8 → 10, ReLU) for one epoch \
        with SGD on seeded synthetic data and encodes the delta (after − before) with each chain: \
        float32, float16, int8, top-k 1% (float32, int8, int8+zlib, float16+zlib) and top-k 10% + \
        int8 + zlib. Speeds are MB/s of float32 input on one thread, the median of --repeats timed \
        runs of at least --seconds; the ratio is raw float32 bytes ÷ encoded bytes.
        """,
        options: [
            OptionSpec("params", value: "N", help: "Approximate parameter count of the MLP.", default: "10000000"),
            OptionSpec("seconds", value: "S", help: "Minimum seconds per timed run.", default: "1"),
            OptionSpec("repeats", value: "N", help: "Timed runs per measurement; the median is reported.", default: "5"),
            OptionSpec("out", value: "FILE", help: "Also write the JSON report to FILE."),
            .flag("json", help: "Print the report as JSON (the default prints a table)."),
        ])

    struct Output: Codable {
        var bench = "delta_codec"
        var report: CodecBenchmark.Report
    }

    static func run(_ command: ParsedCommand) throws {
        let params = try command.int("params", range: 10_000...200_000_000)
        let seconds = try command.double("seconds", range: 0.01...600)
        let repeats = try command.int("repeats", range: 1...100)
        let report = try CodecBenchmark.run(params: params, seconds: seconds, repeats: repeats, progress: Terminal.progress)
        let output = Output(report: report)
        if command.flag("json") || command.isSet("out") {
            try Terminal.emit(try Terminal.json(output), to: command.isSet("out") ? try command.string("out") : nil)
        }
        if !command.flag("json") { print(table(report)) }
    }

    static func table(_ report: CodecBenchmark.Report) -> String {
        var lines = [
            "delta of \(report.params) parameters (\(report.layers.map(String.init).joined(separator: "-")), one SGD epoch), raw float32 \(report.rawFloat32Bytes) bytes",
            "chain                    bytes     ratio  encode MB/s  enc+EF MB/s  decode MB/s  rel L2 err",
        ]
        for c in report.chains {
            lines.append(c.chain.padding(toLength: 22, withPad: " ", startingAt: 0)
                         + String(format: "%10d  %7.1fx  %11.0f  %11.0f  %11.0f  %10.4f", c.bytes, c.ratioVsFloat32,
                                  c.encodeMBps.median, c.encodeWithFeedbackMBps.median, c.decodeMBps.median, c.relativeL2Error))
        }
        return lines.joined(separator: "\n")
    }
}
