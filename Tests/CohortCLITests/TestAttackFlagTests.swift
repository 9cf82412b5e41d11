import XCTest
import Foundation

/// Issue 16, point 3: `cohort node --test-attack` (a hostile test node) is refused without
/// `--insecure`, off loopback, with TLS, and for an unknown attack, before any file is read.
final class TestAttackFlagTests: XCTestCase {
    private func node(_ args: [String]) throws -> (Int32?, String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-attack-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let logURL = dir.appendingPathComponent("node.log")
        let p = try ProcessHarness.launch(["node", "--name", "h", "--secret-file", dir.appendingPathComponent("missing.secret").path,
                                           "--data", dir.appendingPathComponent("missing.csv").path] + args, stderr: logURL)
        let status = ProcessHarness.wait(p, seconds: 30)
        return (status, (try? String(contentsOf: logURL, encoding: .utf8)) ?? "")
    }

    func testAHostileNodeNeedsInsecure() throws {
        let (status, log) = try node(["--test-attack", "scale", "--coordinator", "127.0.0.1:7070"])
        XCTAssertEqual(status, 2, log)
        XCTAssertTrue(log.contains("--test-attack is for testing only and needs --insecure"), log)
    }

    func testAHostileNodeOnlyDialsLoopback() throws {
        for address in ["10.1.2.3:7070", "localhost:7070", "[::]:7070"] {
            let (status, log) = try node(["--test-attack", "signflip", "--coordinator", address, "--insecure"])
            XCTAssertEqual(status, 2, "\(address): \(log)")
            XCTAssertTrue(log.contains("--test-attack needs a loopback --coordinator address"), "\(address): \(log)")
        }
        let (status, log) = try node(["--test-attack", "signflip", "--coordinator", "127.0.0.1:7070", "--insecure", "--tls-ca", "ca.pem"])
        XCTAssertEqual(status, 2, log)
        XCTAssertTrue(log.contains("--test-attack needs a loopback --coordinator address (127.0.0.0/8 or ::1) and no TLS"), log)
    }

    func testAnUnknownAttackListsTheKnownOnes() throws {
        let (status, log) = try node(["--test-attack", "flood", "--coordinator", "127.0.0.1:7070", "--insecure"])
        XCTAssertEqual(status, 2, log)
        XCTAssertTrue(log.contains("unknown attack 'flood'") && log.contains("sample-inflation"), log)
    }

    func testOnLoopbackTheFlagPassesAndTheNodeGoesOnToItsFiles() throws {
        let (status, log) = try node(["--test-attack", "noise", "--coordinator", "127.0.0.1:7070", "--insecure"])
        XCTAssertNotEqual(status, 0, log)
        XCTAssertFalse(log.contains("--test-attack needs"), log)
        XCTAssertTrue(log.contains("WARNING: --test-attack is a TESTING flag"), log)
        XCTAssertTrue(log.contains("missing.csv"), "it failed on the missing data file, after the checks: \(log)")
    }
}
