import XCTest
@testable import CohortTransport
import Foundation

/// `ByteStream.isOpen`, which the coordinator uses to tell a live session (a second connection
/// under its name is refused) from one whose node went away (a reconnection replaces it).
final class StreamLivenessTests: XCTestCase {
    private func check(tls: Bool) throws {
        let pairs = try LoopbackPairs(tls: tls)
        defer { pairs.listener.close() }
        // Open at both ends, also with bytes waiting unread.
        let (client, server) = try pairs.make()
        XCTAssertTrue(server.isOpen)
        try client.write([1, 2, 3], timeout: 5)
        XCTAssertEqual(try server.read(exactly: 1, timeout: 5), [1])
        XCTAssertTrue(server.isOpen, "unread bytes are not a hang-up")
        XCTAssertTrue(client.isOpen)
        // The peer closes: the server side sees it without reading.
        client.close()
        XCTAssertFalse(client.isOpen, "closed here")
        let deadline = Date().addingTimeInterval(10)
        while server.isOpen && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertFalse(server.isOpen, "the peer's close is seen")
        // Closing locally.
        let (c2, s2) = try pairs.make()
        s2.close()
        XCTAssertFalse(s2.isOpen)
        c2.close()
    }

    func testPlainStreamSeesThePeersClose() throws { try check(tls: false) }
    func testTLSStreamSeesThePeersClose() throws { try check(tls: true) }
}
