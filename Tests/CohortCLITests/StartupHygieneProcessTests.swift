import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Files an operator names: secrets and TLS keys readable by group or others are refused with
/// the `chmod 600` fix named; a FIFO where a file is expected is refused at once (not waited
/// on); temporary files a killed run left in the journal folder are removed at start.
final class StartupHygieneProcessTests: XCTestCase {
    private var dir: URL!
    private func p(_ name: String) -> String { dir.appendingPathComponent(name).path }

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CohortBinary.url.path), "cohort binary not built")
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-hygiene-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try ProcessHarness.writeSites(in: dir, plan: #"{"batchSize":16,"learningRate":0.05}"#)
        let initProc = try ProcessHarness.launch(["model", "init", "--arch", p("arch.json"), "--out", p("init.ckpt"), "--seed", "1"],
                                                 stderr: dir.appendingPathComponent("init.log"))
        XCTAssertEqual(ProcessHarness.wait(initProc, seconds: 30), 0)
    }

    override func tearDown() { if let dir { try? FileManager.default.removeItem(at: dir) } }

    private func coordinator(_ extra: [String], plan: String = "plan.json", secrets: String = "secrets.txt", wait: String = "0.5") throws -> (Int32?, String) {
        let log = dir.appendingPathComponent("coordinator-\(UUID().uuidString).log")
        let c = try ProcessHarness.launch(["coordinator", "--model", p("init.ckpt"), "--plan", p(plan), "--secrets", p(secrets),
                                           "--listen", "127.0.0.1:0", "--min-nodes", "1", "--wait", wait, "--out", p("out")] + extra,
                                          stderr: log)
        let status = ProcessHarness.wait(c, seconds: 20)
        return (status, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }

    func testWorldReadableSecretsAndKeysAreRefusedWithChmod600() throws {
        XCTAssertEqual(chmod(p("secrets.txt"), 0o644), 0)
        var (status, log) = try coordinator(["--insecure"])
        XCTAssertEqual(status, 1, log)
        XCTAssertTrue(log.contains("secrets file '\(p("secrets.txt"))' has permissions 0644"), log)
        XCTAssertTrue(log.contains("chmod 600 '\(p("secrets.txt"))'"), log)
        XCTAssertEqual(chmod(p("secrets.txt"), 0o600), 0)

        // A TLS key readable by the group.
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("CohortTransportTests/Fixtures")
        try FileManager.default.copyItem(at: fixtures.appendingPathComponent("coordinator.key"), to: dir.appendingPathComponent("tls.key"))
        XCTAssertEqual(chmod(p("tls.key"), 0o640), 0)
        (status, log) = try coordinator(["--tls-cert", fixtures.appendingPathComponent("coordinator.pem").path, "--tls-key", p("tls.key")])
        XCTAssertEqual(status, 1, log)
        XCTAssertTrue(log.contains("TLS private key '\(p("tls.key"))' has permissions 0640"), log)
        XCTAssertTrue(log.contains("chmod 600"), log)

        // A node's secret file readable by others.
        XCTAssertEqual(chmod(p("site0.key"), 0o604), 0)
        let nodeLog = dir.appendingPathComponent("node.log")
        let node = try ProcessHarness.launch(["node", "--coordinator", "127.0.0.1:1", "--name", "site0", "--secret-file", p("site0.key"),
                                              "--data", p("site0.csv"), "--insecure"], stderr: nodeLog)
        XCTAssertEqual(ProcessHarness.wait(node, seconds: 20), 1)
        let text = (try? String(contentsOf: nodeLog, encoding: .utf8)) ?? ""
        XCTAssertTrue(text.contains("secret file '\(p("site0.key"))' has permissions 0604"), text)
        XCTAssertTrue(text.contains("chmod 600"), text)
    }

    func testFIFOsAreRefusedWithoutBlocking() throws {
        XCTAssertEqual(mkfifo(p("plan.fifo"), 0o600), 0)
        XCTAssertEqual(mkfifo(p("secrets.fifo"), 0o600), 0)
        // Before, reading either blocked until a writer came: the wait below would time out.
        var (status, log) = try coordinator(["--insecure"], plan: "plan.fifo")
        XCTAssertEqual(status, 1, log)
        XCTAssertTrue(log.contains("plan '\(p("plan.fifo"))' is a FIFO, not a regular file"), log)
        (status, log) = try coordinator(["--insecure"], secrets: "secrets.fifo")
        XCTAssertEqual(status, 1, log)
        XCTAssertTrue(log.contains("secrets file '\(p("secrets.fifo"))' is a FIFO, not a regular file"), log)
        (status, log) = try coordinator(["--insecure"], secrets: ".")
        XCTAssertEqual(status, 1, log)
        XCTAssertTrue(log.contains("is a directory, not a regular file"), log)
    }

    func testLeftoverTemporaryFilesAreRemovedAtStart() throws {
        try FileManager.default.createDirectory(atPath: p("out"), withIntermediateDirectories: true)
        // What a coordinator SIGKILLed mid-journal leaves (PID of a process that has ended).
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        let leftovers = ["global.ckpt.tmp-\(child.processIdentifier)-12345", "rounds.jsonl.tmp-\(child.processIdentifier)-678"]
        for n in leftovers { XCTAssertTrue(FileManager.default.createFile(atPath: p("out/\(n)"), contents: Data([1, 2, 3]))) }
        XCTAssertTrue(FileManager.default.createFile(atPath: p("out/notes.txt"), contents: Data([1])))
        // No node comes: the coordinator gives up after --wait, having cleaned up first.
        let (status, log) = try coordinator(["--insecure"])
        XCTAssertEqual(status, 1, log)
        XCTAssertTrue(log.contains("removed 2 temporary file(s) a killed run left"), log)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: p("out")), ["notes.txt"])
    }
}
