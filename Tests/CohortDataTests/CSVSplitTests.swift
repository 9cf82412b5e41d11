import CohortData
import XCTest

/// `cohort data split`: one file per site value, the rows unchanged, a stratified seeded test part.
final class CSVSplitTests: XCTestCase {
    private let csv = """
    species,island,bill,note
    Adelie,Torgersen,39.1,"a, quoted"
    Adelie,Biscoe,37.8,
    Gentoo,Biscoe,46.1,x
    Adelie,Dream,39.5,
    Chinstrap,Dream,46.5,
    Adelie,NA,40.0,
    Gentoo,Biscoe,50.0,
    Adelie,Biscoe,38.2,
    Chinstrap,Dream,50.1,
    Adelie,Dream,37.0,

    """

    private func write(_ text: String, in dir: String) throws -> String {
        let path = dir + "/all.csv"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func lines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    func testEachSiteGetsExactlyItsRows() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let result = try CSVSplit.split(path: try write(csv, in: dir), by: "island", outDir: dir + "/out")
        XCTAssertEqual(result.parts.map(\.value), ["Torgersen", "Biscoe", "Dream"])
        XCTAssertEqual(result.parts.map(\.trainRows), [1, 4, 4])
        XCTAssertEqual(result.skippedMissing, 1)
        let biscoe = try lines(dir + "/out/Biscoe.csv")
        XCTAssertEqual(biscoe, ["species,island,bill,note", "Adelie,Biscoe,37.8,", "Gentoo,Biscoe,46.1,x", "Gentoo,Biscoe,50.0,", "Adelie,Biscoe,38.2,"])
        XCTAssertEqual(try lines(dir + "/out/Torgersen.csv")[1], #"Adelie,Torgersen,39.1,"a, quoted""#, "a quoted cell stays quoted")
        XCTAssertTrue(try lines(dir + "/out/Dream.csv").dropFirst().allSatisfy { $0.contains(",Dream,") })
    }

    func testTestPartIsStratifiedSeededAndDisjoint() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let path = try write(csv, in: dir)
        let result = try CSVSplit.split(path: path, by: "island", outDir: dir + "/a", testFraction: 0.5, stratify: "species", seed: 7)
        let dream = result.parts.first { $0.value == "Dream" }!
        // Dream: 2 Adelie + 2 Chinstrap → one of each held out.
        XCTAssertEqual(dream.trainRows, 2)
        XCTAssertEqual(dream.testRows, 2)
        let test = try lines(dir + "/a/Dream.test.csv").dropFirst()
        XCTAssertEqual(Set(test.map { String($0.prefix { $0 != "," }) }), ["Adelie", "Chinstrap"])
        let train = try lines(dir + "/a/Dream.train.csv").dropFirst()
        XCTAssertTrue(Set(train).isDisjoint(with: Set(test)))
        XCTAssertEqual(Set(train).union(test).count, 4)
        // The same seed draws the same rows.
        _ = try CSVSplit.split(path: path, by: "island", outDir: dir + "/b", testFraction: 0.5, stratify: "species", seed: 7)
        XCTAssertEqual(try lines(dir + "/b/Dream.test.csv"), try lines(dir + "/a/Dream.test.csv"))
    }

    func testUnusableValuesAndMissingColumnsAreErrors() throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let path = try write("y,site\n1,../etc\n0,.hidden\n1,ok\n", in: dir)
        let message = errorMessage { _ = try CSVSplit.split(path: path, by: "site", outDir: dir + "/out") }
        XCTAssertTrue(message.contains("'../etc'") && message.contains("'.hidden'"), message)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out"), "nothing written")
        let missing = errorMessage { _ = try CSVSplit.split(path: path, by: "hospital", outDir: dir + "/out") }
        XCTAssertTrue(missing.contains("no column 'hospital'"), missing)
    }
}
