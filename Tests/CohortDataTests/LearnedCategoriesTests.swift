import CohortNN
import CohortTensor
import Foundation
import XCTest
@testable import CohortData

/// Categories learned from the data (a categorical column without `categories`): the merge
/// order, `minCount`, the reader's caps, the statistics round's texts and counts, and reading
/// new data with the fitted list (an unseen value is an error naming row and column, or all
/// zeros under `unknown: ignore`).
final class LearnedCategoriesTests: XCTestCase {
    private var dir = ""
    override func setUp() {
        dir = NSTemporaryDirectory() + "cohort-learned-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    private func write(_ name: String, _ text: String) throws -> String {
        let path = dir + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func schema(column: String = #"{"name": "c", "type": "categorical", "missing": "most-frequent"}"#) throws -> DatasetSchema {
        try DatasetSchema.decode(Data("""
        {"version": 1, "label": {"column": "y", "classes": ["no", "yes"]},
         "features": [{"name": "a", "type": "numeric"}, \(column)]}
        """.utf8), source: "s.json")
    }

    func testMergeAddsCountsAndOrdersByCountThenText() {
        let merged = LearnedCategories.merge([(["b", "c", "z"], [3, 1, 1]), (["a", "c"], [3, 4])])
        XCTAssertEqual(merged.texts, ["a", "b", "c", "z"])
        XCTAssertEqual(merged.counts, [3, 3, 5, 1])
        let ordered = LearnedCategories.order(merged, minCount: 1)
        XCTAssertEqual(ordered.texts, ["c", "a", "b", "z"], "descending count, ties by text")
        XCTAssertEqual(ordered.counts, [5, 3, 3, 1])
        XCTAssertEqual(LearnedCategories.order(merged, minCount: 2).texts, ["c", "a", "b"], "below minCount left out")
        // Numbers compare as numbers: 1.0 and 1 are one value.
        let numeric = LearnedCategories.merge([(["1.0", "2"], [2, 1]), (["1"], [1])])
        XCTAssertEqual(numeric.texts, ["1", "2"])
        XCTAssertEqual(numeric.counts, [3, 1])
    }

    func testSchemaValidationOfLearnedColumns() throws {
        let s = try schema()
        XCTAssertEqual(s.learnedColumns, ["c"])
        XCTAssertEqual(s.encodedWidth, 1, "nothing to encode before the categories are learned")
        for bad in [#"{"name": "c", "type": "categorical", "missing": "constant", "fill": "x"}"#,
                    #"{"name": "c", "type": "categorical", "minCount": 0}"#,
                    #"{"name": "c", "type": "categorical", "maxCategories": 100001}"#,
                    #"{"name": "c", "type": "categorical", "categories": ["x", "y"], "minCount": 2}"#,
                    #"{"name": "c", "type": "binary", "unknown": "ignore"}"#] {
            XCTAssertThrowsError(try schema(column: bad), bad)
        }
        XCTAssertNoThrow(try schema(column: #"{"name": "c", "type": "categorical", "categories": ["x"], "unknown": "ignore"}"#))
    }

    func testReaderCapsDistinctValuesAndTextLength() throws {
        let s = try schema(column: #"{"name": "c", "type": "categorical", "maxCategories": 3}"#)
        let four = try write("four.csv", "y,a,c\nno,1,p\nyes,2,q\nno,3,r\nyes,4,p\nno,5,s\n")
        var categories = CategoryDictionary(schema: s)
        XCTAssertThrowsError(try SchemaReader.read(path: four, schema: s, categories: &categories)) {
            XCTAssertEqual($0 as? CategoryLearningError, .tooManyCategories(column: "c", cap: 3, path: four, row: 6))
            XCTAssertTrue("\($0)".contains("column 'c' holds more than 3 distinct values"), "\($0)")
        }
        let long = String(repeating: "x", count: CategoryDictionary.maxTextBytes + 1)
        let longPath = try write("long.csv", "y,a,c\nno,1,p\nyes,2,\(long)\n")
        var fresh = CategoryDictionary(schema: s)
        XCTAssertThrowsError(try SchemaReader.read(path: longPath, schema: s, categories: &fresh)) {
            XCTAssertEqual($0 as? CategoryLearningError, .textTooLong(column: "c", bytes: 257, cap: 256, path: longPath, row: 3))
        }
        // Without a dictionary a learned column is refused, not read as garbage.
        XCTAssertThrowsError(try SchemaReader.read(path: four, schema: s)) { XCTAssertTrue("\($0)".contains("learns its categories"), "\($0)") }
    }

    /// A local fit learns the same list a schema can give explicitly, and encodes the same.
    func testLocalFitEqualsTheListedCategories() throws {
        var text = "y,a,c\n"
        for i in 0..<40 { text += "\(i % 2 == 0 ? "no" : "yes"),\(i),\(["p", "q", "q", "r", "r", "r", "NA"][i % 7])\n" }
        let path = try write("site.csv", text)
        let learned = try SchemaPipeline.prepare(paths: [path], schema: try schema(), validationFraction: 0, seed: 0)
        let columns = learned.preprocessing.schema.features[1]
        XCTAssertEqual(columns.categories, ["r", "q", "p"], "by descending count")
        XCTAssertEqual(columns.learned, true)
        XCTAssertTrue(try schema().isFitted(as: learned.preprocessing.schema))
        let listed = try SchemaPipeline.prepare(paths: [path], schema: try schema(column: #"{"name": "c", "type": "categorical", "categories": ["r", "q", "p"], "missing": "most-frequent"}"#),
                                                validationFraction: 0, seed: 0)
        XCTAssertEqual(learned.train.labelled.inputs, listed.train.labelled.inputs)
        XCTAssertEqual(learned.preprocessing.columns, listed.preprocessing.columns)
        XCTAssertNoThrow(try learned.preprocessing.validate(source: "fit"))
        // The unfitted schema cannot be stored as a preprocessing.
        var unfitted = learned.preprocessing
        unfitted.schema = try schema()
        XCTAssertThrowsError(try unfitted.validate(source: "fit"))
    }

    /// Two sites' statistics carry texts and counts; the merged fit lists the union (one site
    /// never saw `s`) and equals the local fit on the pooled rows.
    func testStatisticsCarryTextsAndTheMergedFitEqualsThePooledFit() throws {
        let s = try schema()
        let east = try write("east.csv", "y,a,c\nno,1,p\nyes,2,q\nno,3,q\nyes,4,NA\n")
        let west = try write("west.csv", "y,a,c\nno,5,s\nyes,6,q\nno,7,s\nyes,8,p\nno,9,s\n")
        var sites: [SiteStatistics] = []
        for path in [east, west] {
            var categories = CategoryDictionary(schema: s)
            let raw = try SchemaReader.read(path: path, schema: s, categories: &categories)
            let statistics = try SiteStatistics.compute(schema: s, rows: raw.allInputs, sketchCapacity: 16, categories: categories)
            // Through JSON and the receiving side's checks.
            let decoded = try SiteStatistics.decode(Array(try JSONEncoder().encode(statistics)), schema: s, sketchCapacity: 16)
            sites.append(decoded)
        }
        XCTAssertEqual(sites[0].features[1].categories, ["p", "q"])
        XCTAssertEqual(sites[0].features[1].categoryCounts, [1, 2])
        XCTAssertEqual(sites[1].features[1].categories, ["p", "q", "s"])
        let fit = try FittedPreprocessing.fit(schema: s, statistics: SiteStatistics.merge(sites, schema: s, sketchCapacity: 16))
        XCTAssertEqual(fit.schema.features[1].categories, ["q", "s", "p"])
        XCTAssertEqual(fit.columns[1].categoryCounts, [3, 3, 2])
        XCTAssertEqual(fit.columns[1].fill, 0, "most frequent: q (ties to the earlier)")
        let pooled = try SchemaPipeline.prepare(paths: [east, west], schema: s, validationFraction: 0, seed: 0)
        XCTAssertEqual(pooled.preprocessing.schema, fit.schema)
        XCTAssertEqual(pooled.preprocessing.columns[1], fit.columns[1])

        // minCount 3 keeps q and s only.
        let strict = try schema(column: #"{"name": "c", "type": "categorical", "missing": "most-frequent", "minCount": 3, "unknown": "ignore"}"#)
        let strictFit = try FittedPreprocessing.fit(schema: strict, statistics: SiteStatistics.merge(sites, schema: strict, sketchCapacity: 16))
        XCTAssertEqual(strictFit.schema.features[1].categories, ["q", "s"])
    }

    func testHostileLearnedStatisticsAreRefused() throws {
        let s = try schema()
        func entry(_ texts: [String]?, _ counts: [Int]) -> SiteStatistics {
            SiteStatistics(rows: 3, features: [
                .init(name: "a", count: 3, missing: 0, sum: 6, sumSquares: 14, sketch: QuantileSketch(sorted: [1, 2, 3], capacity: 16)),
                .init(name: "c", count: 3, missing: 0, categoryCounts: counts, categories: texts)])
        }
        XCTAssertNoThrow(try entry(["p", "q"], [1, 2]).validate(schema: s, sketchCapacity: 16))
        XCTAssertThrowsError(try entry(nil, [3]).validate(schema: s, sketchCapacity: 16)) { XCTAssertEqual($0 as? StatisticsError, .wrongFields(feature: "c", detail: "a learned categorical column needs categories (its texts)")) }
        XCTAssertThrowsError(try entry(["q", "p"], [1, 2]).validate(schema: s, sketchCapacity: 16), "not in text order")
        XCTAssertThrowsError(try entry(["p", "p"], [1, 2]).validate(schema: s, sketchCapacity: 16), "duplicate")
        XCTAssertThrowsError(try entry(["p", "NA"], [1, 2]).validate(schema: s, sketchCapacity: 16), "a missing marker")
        XCTAssertThrowsError(try entry(["p", "q"], [1, 1]).validate(schema: s, sketchCapacity: 16)) {
            guard case .inconsistentCounts(feature: "c", _)? = $0 as? StatisticsError else { return XCTFail("\($0)") }
        }
        let capped = try schema(column: #"{"name": "c", "type": "categorical", "maxCategories": 2}"#)
        XCTAssertThrowsError(try entry(["p", "q", "r"], [1, 1, 1]).validate(schema: capped, sketchCapacity: 16)) {
            XCTAssertEqual($0 as? StatisticsError, .absurdCount(feature: "c", field: "distinct categories", value: 3, limit: 2))
        }
        XCTAssertThrowsError(try entry([String(repeating: "x", count: 300)], [3]).validate(schema: s, sketchCapacity: 16)) {
            XCTAssertEqual($0 as? StatisticsError, .absurdCount(feature: "c", field: "category text bytes", value: 300, limit: 256))
        }
        // A budget that bounds the message before decoding covers a full cap of longest texts.
        XCTAssertGreaterThan(SiteStatistics.byteBudget(schema: s, sketchCapacity: 16), CategoryDictionary.defaultMaxCategories * CategoryDictionary.maxTextBytes)
    }

    /// Predicting with a learned fit: a value never seen is a problem naming row and column,
    /// or all zeros when the column says `unknown: ignore`.
    func testUnseenValueAtPredictTime() throws {
        let train = try write("train.csv", "y,a,c\nno,1,p\nyes,2,q\nno,3,q\nyes,4,p\n")
        let new = try write("new.csv", "a,c\n1,q\n2,zebra\n3,p\n")
        let fit = try SchemaPipeline.prepare(paths: [train], schema: try schema(), validationFraction: 0, seed: 0).preprocessing
        XCTAssertThrowsError(try fit.predictionInputs(path: new)) {
            XCTAssertTrue("\($0)".contains("column 'c': value 'zebra' not in [p, q] (row 3)"), "\($0)")
        }
        let lenient = try SchemaPipeline.prepare(paths: [train], schema: try schema(column: #"{"name": "c", "type": "categorical", "unknown": "ignore"}"#),
                                                 validationFraction: 0, seed: 0).preprocessing
        XCTAssertEqual(lenient.schema.features[1].categories, ["p", "q"])
        let inputs = try lenient.predictionInputs(path: new)
        XCTAssertEqual(inputs.shape, [3, 3])
        XCTAssertEqual(Array(inputs.data[3..<6].dropFirst()), [0, 0], "zebra: no category is 1")
        XCTAssertEqual(Array(inputs.data[1..<3]), [0, 1], "q")
        XCTAssertEqual(Array(inputs.data[7..<9]), [1, 0], "p")
        // Round trip through JSON (as in a checkpoint) keeps the learned list and its policy.
        let decoded = try JSONDecoder().decode(FittedPreprocessing.self, from: try JSONEncoder().encode(lenient))
        XCTAssertEqual(decoded, lenient)
    }

    /// `schema infer --learn-categories` drafts text columns without categories; a numeric 0/1
    /// column stays binary.
    func testInferenceCanLeaveCategoriesToBeLearned() throws {
        let path = try write("infer.csv", "y,unit,flag,a\nno,icu,0,1.5\nyes,ward,1,2.5\nno,hdu,0,NA\nyes,ward,1,0.5\n")
        let listed = try SchemaInference.infer(path: path, label: "y")
        XCTAssertEqual(listed.schema.features.first { $0.name == "unit" }?.categories, ["hdu", "icu", "ward"])
        let learned = try SchemaInference.infer(path: path, label: "y", learnCategories: true)
        let unit = try XCTUnwrap(learned.schema.features.first { $0.name == "unit" })
        XCTAssertTrue(unit.learnsCategories)
        XCTAssertEqual(unit.found?.distinct, 3)
        XCTAssertEqual(learned.schema.features.first { $0.name == "flag" }?.type, .binary)
        XCTAssertEqual(learned.schema.learnedColumns, ["unit"])
        XCTAssertTrue(learned.summary(path: path).contains("[learned in federation; 3 values here]"), learned.summary(path: path))
        // The draft is a valid schema that reads the file with a dictionary and fits locally.
        let reparsed = try DatasetSchema.decode(try learned.schema.json(), source: "draft")
        let prepared = try SchemaPipeline.prepare(paths: [path], schema: reparsed, validationFraction: 0, seed: 0)
        XCTAssertEqual(prepared.preprocessing.schema.features.first { $0.name == "unit" }?.categories, ["ward", "hdu", "icu"])
    }

    /// Rows of a site's validation part holding a value no training row had: an error naming
    /// the column, the value and its rows, or -1 (all zeros) under `unknown: ignore`; a listed
    /// column with `unknown: ignore` reads such a value as -1 and its statistics still validate.
    func testResolvingUnseenValuesFollowsTheUnknownPolicy() throws {
        let s = try schema()
        var categories = CategoryDictionary(schema: s)
        _ = try SchemaReader.read(path: try write("t.csv", "y,a,c\nno,1,p\nyes,2,q\n"), schema: s, categories: &categories)
        let validation = try SchemaReader.read(path: try write("v.csv", "y,a,c\nno,1,zz\nyes,2,p\nno,3,zz\n"), schema: s, categories: &categories)
        var fitted = s
        fitted.features[1].categories = ["p", "q"]
        fitted.features[1].learned = true
        XCTAssertThrowsError(try categories.resolve(validation, with: fitted)) {
            XCTAssertEqual($0 as? CategoryLearningError, .unseen(column: "c", value: "zz", rows: 2))
        }
        fitted.features[1].unknown = .ignore
        let resolved = try categories.resolve(validation, with: fitted)
        XCTAssertEqual(resolved.labelled.inputs.data.enumerated().filter { $0.offset % 2 == 1 }.map(\.element), [-1, 0, -1])

        let listed = try schema(column: #"{"name": "c", "type": "categorical", "categories": ["p", "q"], "unknown": "ignore"}"#)
        let raw = try SchemaReader.read(path: try write("l.csv", "y,a,c\nno,1,p\nyes,2,zz\n"), schema: listed)
        XCTAssertEqual(raw.labelled.inputs.data, [1, 0, 2, -1])
        let statistics = try SiteStatistics.compute(schema: listed, rows: raw.allInputs, sketchCapacity: 16)
        XCTAssertEqual(statistics.features[1].count, 2)
        XCTAssertEqual(statistics.features[1].categoryCounts, [1, 0])
        XCTAssertNoThrow(try statistics.validate(schema: listed, sketchCapacity: 16))
    }
}
