import CohortBench
import Foundation

/// `cohort bench images`: streaming training from an ImageFolder on disk.
enum BenchImagesCommand {
    static let spec = CommandSpec(
        ["bench", "images"], summary: "Train one epoch streaming a generated folder of PNGs from disk; report images/s and peak memory.",
        discussion: """
        Writes --count PNGs (10 classes) into a temporary folder (removed afterwards unless --dir is given), trains a small \
        CNN for one epoch decoding each batch from disk, and prints JSON with images/s and the peak resident memory (VmHWM).
        """,
        options: [
            OptionSpec("count", value: "N", help: "Images to write.", default: "50000"),
            OptionSpec("side", value: "PIXELS", help: "Image width and height.", default: "28"),
            OptionSpec("channels", value: "C", help: "1 (grey) or 3 (RGB).", default: "1"),
            OptionSpec("batch-size", value: "N", help: "Images per step.", default: "64"),
            OptionSpec("dir", value: "DIR", help: "Write the images here (kept) instead of a temporary folder."),
            OptionSpec("out", value: "FILE", help: "Also write the JSON report to FILE."),
        ])

    static func run(_ command: ParsedCommand) throws {
        let channels = try command.int("channels", range: 1...3)
        guard channels != 2 else { throw UsageError(context: command.context, problem: "--channels must be 1 or 3") }
        let keep = command.isSet("dir")
        let dir = keep ? try command.string("dir")
            : FileManager.default.temporaryDirectory.appendingPathComponent("cohort-bench-images-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { if !keep { try? FileManager.default.removeItem(atPath: dir) } }
        let report = try ImageStreamBenchmark.run(count: try command.int("count", range: 10...10_000_000), side: try command.int("side", range: 4...1024),
                                                  channels: channels, batch: try command.int("batch-size", range: 1...100_000), directory: dir)
        try Terminal.emit(try Terminal.json(report), to: command.isSet("out") ? try command.string("out") : nil)
    }
}
