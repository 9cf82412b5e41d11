import XCTest
import CohortTransport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Secrets and keys private to their owner (as ssh insists); FIFOs, directories and devices
/// refused without blocking.
final class LocalFileTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-localfile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    private func file(_ name: String, mode: mode_t, text: String = "000102030405060708090a0b0c0d0e0f\n") throws -> String {
        let path = dir.appendingPathComponent(name).path
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)))
        XCTAssertEqual(chmod(path, mode), 0)
        return path
    }

    func testSecretReadableByGroupOrOthersIsRefusedWithTheFix() throws {
        for mode: mode_t in [0o644, 0o640, 0o604, 0o660, 0o602] {
            let path = try file("s\(mode)", mode: mode)
            XCTAssertThrowsError(try LocalFile.text(path, what: "secrets file", secret: true)) { error in
                XCTAssertEqual(error as? LocalFileError, .tooOpen(path: path, what: "secrets file", mode: UInt32(mode)))
                XCTAssertTrue("\(error)".contains("run: chmod 600 '\(path)'"), "\(error)")
                XCTAssertTrue("\(error)".contains(String(format: "%04o", mode)), "\(error)")
            }
            XCTAssertThrowsError(try LocalFile.check(path, what: "TLS private key", secret: true))
            // The same file is fine where it is not a secret.
            XCTAssertNoThrow(try LocalFile.check(path, what: "certificate"))
        }
        let ok = try file("ok", mode: 0o600)
        XCTAssertEqual(try LocalFile.text(ok, what: "secrets file", secret: true), "000102030405060708090a0b0c0d0e0f\n")
        XCTAssertNoThrow(try LocalFile.check(try file("ro", mode: 0o400), what: "key", secret: true))
    }

    func testFIFODirectoryAndDeviceAreRefusedWithoutBlocking() throws {
        let fifo = dir.appendingPathComponent("fifo").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        // Nobody writes to the FIFO: a blocking open would hang here.
        XCTAssertThrowsError(try LocalFile.read(fifo, what: "plan")) {
            XCTAssertEqual($0 as? LocalFileError, .notRegular(path: fifo, what: "plan", kind: "a FIFO"))
        }
        XCTAssertThrowsError(try LocalFile.text(fifo, what: "secret file", secret: true)) {
            XCTAssertEqual($0 as? LocalFileError, .notRegular(path: fifo, what: "secret file", kind: "a FIFO"))
        }
        XCTAssertThrowsError(try LocalFile.read(dir.path, what: "plan")) {
            XCTAssertEqual($0 as? LocalFileError, .notRegular(path: dir.path, what: "plan", kind: "a directory"))
        }
        XCTAssertThrowsError(try LocalFile.check("/dev/null", what: "TLS private key", secret: true)) {
            XCTAssertEqual($0 as? LocalFileError, .notRegular(path: "/dev/null", what: "TLS private key", kind: "a character device"))
        }
        XCTAssertThrowsError(try LocalFile.read(dir.appendingPathComponent("missing").path, what: "plan")) {
            guard case .unreadable = $0 as? LocalFileError else { return XCTFail("\($0)") }
        }
    }

    func testLargeFilesAreRefusedBeforeReading() throws {
        let path = try file("big", mode: 0o600, text: String(repeating: "a", count: 100))
        XCTAssertThrowsError(try LocalFile.read(path, what: "plan", limit: 99)) {
            XCTAssertEqual($0 as? LocalFileError, .tooLarge(path: path, what: "plan", bytes: 100, limit: 99))
        }
        XCTAssertEqual(try LocalFile.read(path, what: "plan", limit: 100).count, 100)
    }
}
