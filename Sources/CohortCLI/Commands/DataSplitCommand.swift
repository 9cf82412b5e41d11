import CohortData
import Foundation

/// `cohort data split`: one CSV file per value of a column (a site column), optionally each
/// with a held-out test file.
enum DataSplitCommand {
    static let spec = CommandSpec(
        ["data", "split"], summary: "Split a CSV file into one file per value of a column (e.g. one per site), optionally with held-out test rows.",
        discussion: """
        Writes OUT/<value>.csv for every value of --by (rows copied unchanged, the header repeated); with --test-fraction F, \
        OUT/<value>.train.csv and OUT/<value>.test.csv instead, F of each value's rows going to the test file, drawn with --seed \
        within each class of --stratify (the label column) so every part keeps its class mix. Rows whose --by cell is missing \
        (empty, NA, NaN, ?) are left out and counted. Give each site its file: cohort node --data OUT/<value>.train.csv --test \
        OUT/<value>.test.csv.
        """,
        options: [
            OptionSpec("by", value: "COLUMN", help: "The column whose values name the parts (e.g. island, hospital)."),
            OptionSpec("out", value: "DIR", help: "Folder for the files (created if needed)."),
            OptionSpec("test-fraction", value: "F", help: "Fraction of each part held out as its test file (0: no test files).", default: "0"),
            OptionSpec("stratify", value: "COLUMN", help: "Draw the test rows within each value of this column (the label)."),
            OptionSpec("seed", value: "N", help: "Seed for drawing the test rows.", default: "0"),
        ],
        positionals: [PositionalSpec("file", help: "The CSV file to split.")])

    static func run(_ command: ParsedCommand) throws {
        guard let path = command.positional("file") else { throw UsageError(context: command.context, problem: "missing the CSV file to split") }
        let result = try CSVSplit.split(path: path, by: try command.string("by"), outDir: try command.string("out"),
                                        testFraction: try command.double("test-fraction", range: 0...0.9),
                                        stratify: command.isSet("stratify") ? try command.string("stratify") : nil,
                                        seed: UInt64(try command.int("seed", range: 0...)))
        for part in result.parts {
            print("\(part.value): \(part.trainRows) rows" + (part.files.count > 1 ? " + \(part.testRows) test rows" : "") + " -> "
                  + part.files.joined(separator: ", "))
        }
        if result.skippedMissing > 0 { print("\(result.skippedMissing) row(s) without a value in the column left out") }
    }
}
