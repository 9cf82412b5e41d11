import XCTest
import CohortAdapt
import CohortCheckpoint
import Foundation

/// `cohort adapt`, `cohort shift` and `cohort rank` through the real binary.
final class AdaptationCommandsTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-adapt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    private func p(_ name: String) -> String { dir.appendingPathComponent(name).path }

    private func run(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) { try ProcessHarness.capture(args) }

    /// Three classes by angle sector on a ring, in 4 features (2 of them noise), with a
    /// scanner-like gain and offset; rows for which
    /// `hidden` holds have no label; `shuffle` draws the labels at random.
    private func writeSite(_ name: String, rows: Int, seed: UInt64, gain: Double = 1, offset: Double = 0,
                           hidden: (Int) -> Bool = { _ in false }, shuffle: Bool = false) throws {
        var state = seed
        func uniform() -> Double { state = state &* 6364136223846793005 &+ 1442695040888963407; return Double(state >> 11) / Double(1 << 53) }
        var csv = "a,b,c,d,target\n"
        for i in 0..<rows {
            let y = i % 3
            let angle = (Double(y) + 0.15 + 0.7 * uniform()) * 2 * Double.pi / 3, radius = 2 + 0.3 * uniform()
            let xs = [radius * cos(angle), radius * sin(angle), uniform() - 0.5, uniform() - 0.5].map { gain * $0 + offset }
            let label = shuffle ? Int(uniform() * 3) : y
            csv += xs.map { String(format: "%.4f", $0) }.joined(separator: ",") + "," + (hidden(i) ? "" : "\(label)") + "\n"
        }
        try csv.write(toFile: p(name), atomically: true, encoding: .utf8)
    }

    private func prepare() throws {
        try writeSite("source.csv", rows: 450, seed: 1)
        try writeSite("target.csv", rows: 240, seed: 2, gain: 1.8, offset: 1.5, hidden: { $0 % 2 == 1 })
        try writeSite("near.csv", rows: 150, seed: 3)
        try writeSite("unlabelled.csv", rows: 90, seed: 4, gain: 1.8, offset: 1.5, hidden: { _ in true })
        try #"{"inputShape":[4],"layers":[{"kind":"dense","name":"features.0","units":24},{"kind":"batchnorm1d","name":"features.1"},{"kind":"relu","name":"features.2"},{"kind":"dense","name":"head","units":3}]}"#
            .write(toFile: p("arch.json"), atomically: true, encoding: .utf8)
        let r = try run(["pretrain", "--arch", p("arch.json"), "--data", p("source.csv"), "--epochs", "25", "--lr", "0.05", "--seed", "1", "--out", p("source.ckpt")])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    private func tensors(_ path: String) throws -> [String: [Float]] {
        Dictionary(uniqueKeysWithValues: try CheckpointFile.load(path).tensors.map { ($0.name, $0.value.data) })
    }

    private func changedNames(_ adapted: String) throws -> Set<String> {
        let before = try tensors(p("source.ckpt")), after = try tensors(adapted)
        XCTAssertEqual(Set(before.keys), Set(after.keys), adapted)
        return Set(after.filter { before[$0.key] != $0.value }.map(\.key))
    }

    func testAdaptChangesOnlyWhatEachMethodSaysAndRecordsIt() throws {
        try prepare()
        let stats: Set = ["features.1.running_mean", "features.1.running_var"]
        let adabn = try run(["adapt", "--model", p("source.ckpt"), "--target", p("target.csv"), "--method", "adabn", "--out", p("adabn.ckpt"), "--json"])
        XCTAssertEqual(adabn.status, 0, adabn.stderr)
        let summary = try JSONDecoder().decode(AdaptationSummary.self, from: Data(adabn.stdout.utf8))
        XCTAssertEqual(summary.method, .adabn)
        XCTAssertEqual(summary.targetRows, 240)
        XCTAssertEqual(summary.validationRows, 120)   // every other row is labelled; labels only measure
        let before = try XCTUnwrap(summary.accuracyBefore), after = try XCTUnwrap(summary.accuracyAfter)
        XCTAssertGreaterThan(after, before, "AdaBN should undo the gain/offset shift: \(before) -> \(after)")
        XCTAssertEqual(try changedNames(p("adabn.ckpt")), stats)
        let metadata = try CheckpointFile.load(p("adabn.ckpt")).metadata
        XCTAssertTrue(metadata.source.contains("--method adabn"), metadata.source)
        XCTAssertEqual(try JSONDecoder().decode(AdaptationSummary.self, from: Data(metadata.history[0].utf8)).method, .adabn)
        XCTAssertEqual(metadata.metrics["accuracy_after"] ?? 0, after, accuracy: 1e-9)

        let tent = try run(["adapt", "--model", p("source.ckpt"), "--target", p("target.csv"), "--method", "tent", "--epochs", "2", "--out", p("tent.ckpt")])
        XCTAssertEqual(tent.status, 0, tent.stderr)
        XCTAssertTrue(tent.stdout.contains("accuracy on 120 labelled target rows"), tent.stdout)
        XCTAssertEqual(try changedNames(p("tent.ckpt")), stats.union(["features.1.weight", "features.1.bias"]))

        let shot = try run(["adapt", "--model", p("source.ckpt"), "--target", p("unlabelled.csv"), "--method", "shot", "--out", p("shot.ckpt")])
        XCTAssertEqual(shot.status, 0, shot.stderr)
        XCTAssertTrue(shot.stdout.contains("no labelled target rows") && shot.stdout.contains("entropy"), shot.stdout)
        let shotChanged = try changedNames(p("shot.ckpt"))
        XCTAssertFalse(shotChanged.contains("head.weight") || shotChanged.contains("head.bias"), "\(shotChanged)")
        XCTAssertTrue(shotChanged.contains("features.0.weight"), "\(shotChanged)")

        for method in ["dann", "coral", "mmd"] {
            let r = try run(["adapt", "--model", p("source.ckpt"), "--target", p("target.csv"), "--source", p("source.csv"), "--method", method,
                             "--epochs", "1", "--max-source", "200", "--out", p("\(method).ckpt"), "--json"])
            XCTAssertEqual(r.status, 0, "\(method): \(r.stderr)")
            let s = try JSONDecoder().decode(AdaptationSummary.self, from: Data(r.stdout.utf8))
            XCTAssertEqual(s.sourceRows, 200, method)
            XCTAssertTrue(try changedNames(p("\(method).ckpt")).contains("head.weight"), method)
        }

        let proto = try run(["adapt", "--model", p("source.ckpt"), "--target", p("target.csv"), "--method", "prototypes", "--out", p("proto.ckpt"), "--json"])
        XCTAssertEqual(proto.status, 0, proto.stderr)
        let ps = try JSONDecoder().decode(AdaptationSummary.self, from: Data(proto.stdout.utf8))
        XCTAssertEqual(ps.supportRows + ps.validationRows, 120, "prototypes come from the labelled rows not held out")
        XCTAssertEqual(try changedNames(p("proto.ckpt")), ["head.weight", "head.bias"])

        let guarded = try run(["adapt", "--model", p("source.ckpt"), "--target", p("target.csv"), "--method", "adabn", "--guard", "--out", p("g.ckpt"), "--json"])
        XCTAssertEqual(guarded.status, 0, guarded.stderr)
        let g = try XCTUnwrap(try JSONDecoder().decode(AdaptationSummary.self, from: Data(guarded.stdout.utf8)).guardReport)
        XCTAssertGreaterThanOrEqual(g.incomingScore + g.gainOverIncoming, max(g.incomingScore, g.scratchScore))
        XCTAssertTrue(try CheckpointFile.load(p("g.ckpt")).metadata.source.contains("guard kept \(g.winner.rawValue)"))
    }

    func testAdaptErrorsAreClearAndWriteNothing() throws {
        try prepare()
        try "a,b,target\n1,2,0\n3,4,1\n".write(toFile: p("narrow.csv"), atomically: true, encoding: .utf8)
        let cases: [([String], Int32, String)] = [
            (["--method", "dann"], 2, "method dann needs labelled source data: give --source FILE"),
            (["--method", "adabn", "--source", p("source.csv")], 2, "'--source' is used only by dann, coral and mmd"),
            (["--method", "fancy"], 2, "option '--method' expects one of adabn, tent, shot, dann, coral, mmd, prototypes"),
            (["--method", "prototypes", "--target-override"], 2, "unknown option '--target-override'"),
        ]
        for (extra, status, text) in cases {
            let r = try run(["adapt", "--model", p("source.ckpt"), "--target", p("target.csv"), "--out", p("x.ckpt")] + extra)
            XCTAssertEqual(r.status, status, "\(extra): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(text), "\(extra): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "one line: \(r.stderr)")
        }
        let noLabels = try run(["adapt", "--model", p("source.ckpt"), "--target", p("unlabelled.csv"), "--method", "prototypes", "--out", p("x.ckpt")])
        XCTAssertEqual(noLabels.status, 1)
        XCTAssertTrue(noLabels.stderr.contains("unlabelled.csv: prototypes need labelled rows"), noLabels.stderr)
        let shape = try run(["adapt", "--model", p("source.ckpt"), "--target", p("narrow.csv"), "--method", "adabn", "--out", p("x.ckpt")])
        XCTAssertEqual(shape.status, 1)
        XCTAssertTrue(shape.stderr.contains("narrow.csv: 2 values per sample") && shape.stderr.contains("expects input [4]"), shape.stderr)
        let sourceShape = try run(["adapt", "--model", p("source.ckpt"), "--target", p("target.csv"), "--source", p("narrow.csv"), "--method", "coral", "--out", p("x.ckpt")])
        XCTAssertEqual(sourceShape.status, 1)
        XCTAssertTrue(sourceShape.stderr.contains("narrow.csv: 2 values per sample"), sourceShape.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: p("x.ckpt")))
    }

    func testShiftTableRanksTheShiftedSiteFarther() throws {
        try prepare()
        let r = try run(["shift", "--model", p("source.ckpt"), "--source", p("source.csv"), "--sites", p("near.csv"), p("target.csv"), "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["cut"] as? Int, 3)
        let sites = try XCTUnwrap(json["sites"] as? [[String: Any]])
        XCTAssertEqual(sites.map { $0["site"] as? String }, ["near", "target"])
        let mmd = sites.map { $0["mmd"] as? Double ?? .nan }, pad = sites.map { $0["proxyADistance"] as? Double ?? .nan }
        XCTAssertGreaterThan(mmd[1], 3 * mmd[0], "\(mmd)")
        XCTAssertGreaterThan(pad[1], pad[0], "\(pad)")
        XCTAssertTrue(pad.allSatisfy { (0...2).contains($0) }, "\(pad)")
        let text = try run(["shift", "--model", p("source.ckpt"), "--source", p("source.csv"), "--sites", p("near.csv")])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("proxy A-dist") && text.stdout.contains("near"), text.stdout)
        let missing = try run(["shift", "--model", p("source.ckpt"), "--sites", p("near.csv")])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("--source"), missing.stderr)
    }

    /// LogME through `cohort rank` in a real process: the pre-trained model ranks above a
    /// randomly initialised one and one trained on shuffled labels.
    func testRankPutsPoorCheckpointsBelowTheGoodOne() throws {
        try prepare()
        try writeSite("shuffled.csv", rows: 450, seed: 1, shuffle: true)
        XCTAssertEqual(try run(["model", "init", "--arch", p("arch.json"), "--out", p("random.ckpt"), "--seed", "7"]).status, 0)
        let shuffled = try run(["pretrain", "--arch", p("arch.json"), "--data", p("shuffled.csv"), "--epochs", "25", "--lr", "0.05", "--seed", "1", "--out", p("shuffled.ckpt")])
        XCTAssertEqual(shuffled.status, 0, shuffled.stderr)
        let r = try run(["rank", "--models", p("random.ckpt"), p("shuffled.ckpt"), p("source.ckpt"), "--data", p("near.csv"), p("target.csv"), "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let ranking = try XCTUnwrap(json["ranking"] as? [[String: Any]])
        XCTAssertEqual(ranking.map { $0["model"] as? String }.first, "source", r.stdout)
        let scores = Dictionary(uniqueKeysWithValues: ranking.map { ($0["model"] as! String, $0["mean"] as! Double) })
        XCTAssertGreaterThan(scores["source"]!, scores["random"]! + 0.05, "\(scores)")
        XCTAssertGreaterThan(scores["source"]!, scores["shuffled"]! + 0.05, "\(scores)")
        let cuts = try run(["rank", "--models", p("source.ckpt"), "--data", p("near.csv"), "--all-cuts"])
        XCTAssertEqual(cuts.status, 0, cuts.stderr)
        XCTAssertEqual(cuts.stdout.split(separator: "\n").count, 4, cuts.stdout)   // header + cuts 1, 2, 3
        let bad = try run(["rank", "--models", p("source.ckpt"), "--data", p("unlabelled.csv")])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("unlabelled.csv: LogME needs labelled rows"), bad.stderr)
        XCTAssertEqual(try run(["rank", "--data", p("near.csv")]).status, 2)
    }
}
