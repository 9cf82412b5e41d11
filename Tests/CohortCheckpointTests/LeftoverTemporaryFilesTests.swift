import CohortCheckpoint
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Temporary files of a killed writer are removed at start; a live writer's, other files and
/// non-files are left alone.
final class LeftoverTemporaryFilesTests: XCTestCase {
    func testRemovesOnlyLeftoversOfDeadOrOwnPIDs() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // A child that has exited (and been reaped): its PID is no longer live.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        let dead = child.processIdentifier
        let own = getpid()
        let live = getppid()   // our parent is alive and not us
        let names = [
            "global.ckpt.tmp-\(dead)-123456", "rounds.jsonl.tmp-\(own)-42", "server-state-3.ckpt.tmp-\(dead)-7",
            "global.ckpt.tmp-\(live)-99",                  // a live writer's: kept
            "global.ckpt", "notes.tmp-abc-1", "x.tmp-\(dead)-", ".tmp-\(dead)-1", "y.tmp-\(dead)-1-2",   // not leftovers: kept
        ]
        for n in names { XCTAssertTrue(FileManager.default.createFile(atPath: dir.path(n), contents: Data([1]))) }
        try FileManager.default.createDirectory(atPath: dir.path("sub.tmp-\(dead)-5"), withIntermediateDirectories: true)
        let removed = LeftoverTemporaryFiles.remove(in: dir.url.path)
        XCTAssertEqual(Set(removed), ["global.ckpt.tmp-\(dead)-123456", "rounds.jsonl.tmp-\(own)-42", "server-state-3.ckpt.tmp-\(dead)-7"])
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: dir.url.path))
        XCTAssertEqual(left, Set(names.dropFirst(3)).union(["sub.tmp-\(dead)-5"]))
    }

    func testTargetLimitsWhichLeftoversGo() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let own = getpid()
        for n in ["model.ckpt.tmp-\(own)-1", "other.ckpt.tmp-\(own)-2"] {
            XCTAssertTrue(FileManager.default.createFile(atPath: dir.path(n), contents: Data([1])))
        }
        XCTAssertEqual(LeftoverTemporaryFiles.remove(in: dir.url.path, target: "model.ckpt"), ["model.ckpt.tmp-\(own)-1"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.url.path), ["other.ckpt.tmp-\(own)-2"])
    }

    func testTheWritersNameFormatIsRecognised() throws {
        // `AtomicFileWriter` and `AtomicDataFileWriter` name their files `path.tmp-PID-UInt32`.
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let name = "rounds.jsonl.tmp-\(getpid())-\(UInt32.max)"
        XCTAssertTrue(FileManager.default.createFile(atPath: dir.path(name), contents: Data([1])))
        XCTAssertEqual(LeftoverTemporaryFiles.remove(in: dir.url.path), [name])
    }
}
