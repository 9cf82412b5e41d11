import XCTest
import CohortTransport
import Foundation

/// Gathered writes (a frame's small bytes and a large slice in one `sendmsg`) and reads into a
/// reused buffer: the bytes that arrive are exactly the bytes sent, whatever the mix of slice
/// sizes and however the kernel splits the writes.
final class GatheredWriteTests: XCTestCase {
    /// Two parts written as one, while the reader starts late, so the sender's socket buffer
    /// fills and `sendmsg` returns short counts inside the first part's tail and the second.
    func testTwoPartWriteArrivesWholeAfterShortWritesOverTCPAndTLS() throws {
        for tls in [false, true] {
            let (client, server) = try LoopbackPairs(tls: tls).make()
            let first: [UInt8] = (0..<37).map { UInt8($0 * 7 & 0xff) }
            let second: [UInt8] = (0..<(12 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 13) }
            let box = Unchecked(client)
            let wrote = Locked<String?>(nil)
            let done = spawn {
                do {
                    try first.withUnsafeBytes { a in try second.withUnsafeBytes { b in try box.value.write(a, then: b, timeout: 10) } }
                } catch { wrote.value = "\(error)" }
            }
            usleep(200_000)   // let the socket buffers fill before anything is read
            let got = try server.read(exactly: first.count + second.count, timeout: 10)
            XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
            XCTAssertNil(wrote.value)
            XCTAssertEqual(Array(got[..<first.count]), first, "tls \(tls)")
            XCTAssertTrue(got[first.count...].elementsEqual(second), "tls \(tls)")
            client.close(); server.close()
        }
    }

    /// Reading into a caller's buffer fills it exactly, in order, across many short reads.
    func testReadIntoABufferFillsItExactly() throws {
        for tls in [false, true] {
            let (client, server) = try LoopbackPairs(tls: tls).make()
            let sent: [UInt8] = (0..<(3 << 20) + 5).map { UInt8(truncatingIfNeeded: $0 * 31 + 3) }
            let box = Unchecked(client)
            let done = spawn { try? box.value.write(sent, timeout: 10) }
            var got = [UInt8](repeating: 0, count: sent.count)
            try got.withUnsafeMutableBytes { try server.read(into: $0, deadline: Date().addingTimeInterval(10), timeout: 10) }
            XCTAssertEqual(got, sent, "tls \(tls)")
            XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
            client.close(); server.close()
        }
    }

    /// A streamed message of many segments, small and large, cut by chunk boundaries anywhere:
    /// each chunk goes out as gathered writes of staged small bytes and large slices, and is
    /// received into one reused buffer; the message arrives byte for byte.
    func testMixedSegmentsRoundTripThroughGatheredChunks() throws {
        let sizes = [3, 70_000, 17, 16_384, 16_383, 200_000, 1, 40_000, 9, 123_457]
        var segments: [MessageSegment] = []
        var expected: [UInt8] = []
        for (i, n) in sizes.enumerated() {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 * (i + 3) + i) }
            segments.append(.bytes(bytes))
            expected += bytes
        }
        for tls in [false, true] {
            for chunkSize in [50_000, 16_384, 1 << 20] {
                let (client, server) = try LoopbackPairs(tls: tls).make()
                let sender = FramedConnection(stream: client), receiver = FramedConnection(stream: server)
                let message = StreamedMessage(type: MessageType.update.rawValue, segments: segments, chunkSize: chunkSize)
                let box = Unchecked(sender)
                let done = spawn { try? box.value.send(message, version: 4) }
                let start = try receiver.receive(timeout: 5)
                var got: [UInt8] = []
                var chunks = 0
                try receiver.receiveStreamed(start, budget: 1 << 30, timeout: 5) { chunks += 1; got += $0 }
                XCTAssertEqual(chunks, message.chunkCount)
                XCTAssertEqual(got, expected, "tls \(tls), chunk size \(chunkSize)")
                XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
                client.close(); server.close()
            }
        }
    }

    /// A chunk corrupted in flight is still caught by its CRC when read into the reused buffer.
    func testACorruptedChunkIsRefusedByItsChecksum() throws {
        let (client, server) = try LoopbackPairs(tls: false).make()
        defer { client.close(); server.close() }
        var start: [UInt8] = []
        withUnsafeBytes(of: UInt64(8).littleEndian) { start += $0 }
        try client.write(Frame(version: 4, type: MessageType.update.rawValue, payload: start).encoded(), timeout: 2)
        var chunk = Frame(version: 4, type: MessageType.chunk.rawValue, payload: [0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]).encoded()
        chunk[chunk.count - 1] ^= 0x40
        try client.write(chunk, timeout: 2)
        let receiver = FramedConnection(stream: server, readTimeout: 5)
        let first = try receiver.receive(timeout: 2)
        XCTAssertThrowsError(try receiver.receiveStreamed(first, budget: 1 << 20, timeout: 2) { _ in }) { error in
            guard case .checksum = error as? FrameError else { return XCTFail("expected a checksum error, got \(error)") }
        }
    }
}
