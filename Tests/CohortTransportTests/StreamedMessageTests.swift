import XCTest
import CohortTransport
import Foundation

/// Streamed messages (start frame + CHUNK frames) over real loopback connections.
final class StreamedMessageTests: XCTestCase {
    /// A message of three segments (bytes, floats, bytes) and its expected bytes.
    func sample(floats: Int) -> (segments: [MessageSegment], bytes: [UInt8]) {
        let head: [UInt8] = Array("header".utf8)
        let values = (0..<floats).map { Float($0) * 0.25 - 7 }
        let tail: [UInt8] = [9, 8, 7]
        let raw: [UInt8] = values.withUnsafeBytes { [UInt8]($0) }
        let segments: [MessageSegment] = [.bytes(head), .floats(values), .bytes(tail)]
        return (segments, head + raw + tail)
    }

    func testAMessageLargerThanTheFrameLimitRoundTripsOverTCPAndTLS() throws {
        for tls in [false, true] {
            let (client, server) = try LoopbackPairs(tls: tls).make()
            // Frames may hold 64 KiB; the message is about 5 MB.
            let sender = FramedConnection(stream: client, maxPayload: 64 << 10), receiver = FramedConnection(stream: server, maxPayload: 64 << 10)
            let (segments, expected) = sample(floats: 1_250_000)
            let message = StreamedMessage(type: MessageType.update.rawValue, segments: segments, chunkSize: 40_000)
            XCTAssertEqual(message.length, expected.count)
            XCTAssertEqual(message.chunkCount, (expected.count + 39_999) / 40_000)
            let box = Unchecked(sender)
            let done = spawn { try? box.value.send(message, version: 2) }
            let start = try receiver.receive(timeout: 5)
            XCTAssertEqual(start.type, MessageType.update.rawValue)
            var chunks = 0
            var got: [UInt8] = []
            let n = try receiver.receiveStreamed(start, budget: 1 << 30, maxChunk: 64 << 10 - 4, timeout: 5) { chunks += 1; got += $0 }
            XCTAssertEqual(n, expected.count)
            XCTAssertEqual(chunks, message.chunkCount)
            XCTAssertEqual(got, expected, "tls \(tls)")
            XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
            client.close(); server.close()
        }
    }

    func testHeartbeatsBetweenChunksAreSkipped() throws {
        let (client, server) = try LoopbackPairs(tls: true).make()
        let sender = FramedConnection(stream: client), receiver = FramedConnection(stream: server)
        let (segments, expected) = sample(floats: 600_000)
        let message = StreamedMessage(type: MessageType.model.rawValue, segments: segments, chunkSize: 4096)
        let box = Unchecked(sender)
        let stop = Locked(false)
        let beats = spawn {
            while !stop.value { try? box.value.send(Frame(version: 2, type: MessageType.heartbeat.rawValue, payload: [])); usleep(200) }
        }
        let sent = spawn { try? box.value.send(message, version: 2) }
        var start = try receiver.receive(timeout: 5)
        while start.type == MessageType.heartbeat.rawValue { start = try receiver.receive(timeout: 5) }
        let got = try receiver.receiveStreamedBytes(start, budget: 1 << 30, timeout: 5)
        stop.value = true
        XCTAssertEqual(got, expected)
        XCTAssertEqual(sent.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(beats.wait(timeout: .now() + 10), .success)
        client.close(); server.close()
    }

    /// Writes `frames` raw to a fresh connection and returns the receiver's error for a
    /// streamed message (budget 1 MiB), and how long it took.
    func refusal(_ frames: [Frame], budget: Int = 1 << 20, maxChunk: Int = 1024) throws -> (String, Double) {
        let (client, server) = try LoopbackPairs(tls: false).make()
        defer { client.close(); server.close() }
        for f in frames { try client.write(f.encoded(), timeout: 2) }
        let receiver = FramedConnection(stream: server, readTimeout: 5)
        let began = Date()
        let start = try receiver.receive(timeout: 2)
        do {
            try receiver.receiveStreamed(start, budget: budget, maxChunk: maxChunk, timeout: 5) { _ in }
            return ("received", Date().timeIntervalSince(began))
        } catch {
            return ("\(error)", Date().timeIntervalSince(began))
        }
    }

    func start(_ length: UInt64, type: MessageType = .update) -> Frame {
        Frame(version: 2, type: type.rawValue, payload: withUnsafeBytes(of: length.littleEndian) { Array($0) })
    }

    func chunk(_ index: UInt32, _ data: [UInt8]) -> Frame {
        Frame(version: 2, type: MessageType.chunk.rawValue, payload: withUnsafeBytes(of: index.littleEndian) { Array($0) } + data)
    }

    func testMalformedChunkSequencesAreRefusedWithTheReason() throws {
        XCTAssertEqual(try refusal([start(6), chunk(0, [1, 2, 3]), chunk(1, [4, 5, 6])]).0, "received")
        XCTAssertEqual(try refusal([start(6), chunk(1, [1, 2, 3])]).0,
                       "streamed message of type 6: chunk 1 arrived where chunk 0 was expected")
        XCTAssertEqual(try refusal([start(6), chunk(0, [1, 2, 3]), chunk(0, [4, 5, 6])]).0,
                       "streamed message of type 6: chunk 0 arrived where chunk 1 was expected")
        XCTAssertEqual(try refusal([start(6), chunk(0, [1, 2, 3]), chunk(1, [4, 5, 6, 7])]).0,
                       "streamed message of type 6: chunk 1 carries 4 bytes, but only 3 of the announced length remain")
        XCTAssertEqual(try refusal([start(6), chunk(0, [])]).0, "streamed message of type 6: chunk 0 is empty")
        XCTAssertEqual(try refusal([start(6), chunk(0, [1, 2, 3]), Frame(version: 2, type: MessageType.hello.rawValue, payload: [])]).0,
                       "streamed message of type 6 cut off after 3 of 6 bytes by a frame of type 1")
        XCTAssertEqual(try refusal([Frame(version: 2, type: MessageType.update.rawValue, payload: [1, 2, 3])]).0,
                       "streamed message of type 6: start frame has a 3-byte payload, expected the 8-byte length")
        let error = Frame(version: 2, type: MessageType.error.rawValue, payload: Array(#"{"message":"node gave up"}"#.utf8))
        XCTAssertTrue(try refusal([start(6), error]).0.hasSuffix("node gave up"))
        // A chunk over the receiver's chunk limit is refused from its frame header.
        XCTAssertEqual(try refusal([start(5000), chunk(0, [UInt8](repeating: 1, count: 2000))]).0,
                       "frame payload of 2004 bytes exceeds the limit of 1028")
        // Missing chunks: the sender stops; the receiver's deadline ends the wait with the count.
        XCTAssertTrue(try refusal([start(6), chunk(0, [1, 2, 3])]).0.contains("read timed out"))
    }

    func testAnAnnouncementOverTheBudgetIsRefusedBeforeReadingOrAllocating() throws {
        let before = residentBytes()
        let (reason, seconds) = try refusal([start(1 << 40)])
        XCTAssertEqual(reason, "streamed message of type 6 announces 1099511627776 bytes, over the budget of 1048576 bytes")
        XCTAssertLessThan(seconds, 1, "refused at once, not after the 5 s read deadline")
        XCTAssertLessThan(residentBytes() - before, 64 << 20)
    }

    /// A generated segment of `count` floats (value i at index i); throws `Stop` when asked
    /// for a range holding float `failAt`.
    private func generated(floats count: Int, failAt: Int? = nil) -> MessageSegment {
        .generated(count: 4 * count) { range, body in
            let first = range.lowerBound / 4, end = (range.upperBound + 3) / 4
            if let failAt, (first..<end).contains(failAt) { throw Stop() }
            let values = (first..<end).map { Float($0) }
            try values.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[(range.lowerBound - 4 * first)..<(range.upperBound - 4 * first)])) }
        }
    }

    private struct Stop: Error {}

    func testChecksumsMadeWhenSentCarryTheSameBytesOverTCPAndTLS() throws {
        for tls in [false, true] {
            let (client, server) = try LoopbackPairs(tls: tls).make()
            let sender = FramedConnection(stream: client), receiver = FramedConnection(stream: server)
            let head: [UInt8] = Array("header".utf8)
            let expected = head + (0..<300_001).map { Float($0) }.withUnsafeBytes { [UInt8]($0) } + [1, 2, 3]
            let message = StreamedMessage(type: MessageType.update.rawValue, segments: [.bytes(head), generated(floats: 300_001), .bytes([1, 2, 3])],
                                          chunkSize: 40_001, checksumsWhenSent: true)
            let box = Unchecked(sender)
            let done = spawn { try? box.value.send(message, version: 2) }
            let start = try receiver.receive(timeout: 5)
            var chunks = 0
            var got: [UInt8] = []
            // receiveStreamed checks every CHUNK frame's CRC.
            try receiver.receiveStreamed(start, budget: 1 << 30, timeout: 5) { chunks += 1; got += $0 }
            XCTAssertEqual(chunks, message.chunkCount)
            XCTAssertEqual(got, expected, "tls \(tls)")
            XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
            client.close(); server.close()
        }
    }

    func testAGeneratorErrorStopsTheSendBetweenWholeChunks() throws {
        let (client, server) = try LoopbackPairs(tls: false).make()
        defer { client.close(); server.close() }
        let sender = FramedConnection(stream: client), receiver = FramedConnection(stream: server)
        // Float 25,000 is in bytes 100,000..<100,004: chunk 2 of 40,000-byte chunks.
        let message = StreamedMessage(type: MessageType.update.rawValue, segments: [generated(floats: 100_000, failAt: 25_000)],
                                      chunkSize: 40_000, checksumsWhenSent: true)
        let box = Unchecked(sender)
        let failure = Locked<(any Error)?>(nil)
        let done = spawn {
            do { try box.value.send(message, version: 2) } catch {
                failure.value = error
                try? box.value.send(Frame(version: 2, type: MessageType.error.rawValue, payload: Array(#"{"message":"stopped"}"#.utf8)))
            }
        }
        let start = try receiver.receive(timeout: 5)
        var received = 0
        XCTAssertThrowsError(try receiver.receiveStreamed(start, budget: 1 << 30, timeout: 5) { received += $0.count }) { error in
            XCTAssertTrue("\(error)".contains("stopped"), "\(error)")
        }
        XCTAssertEqual(received, 80_000, "the two chunks before the failing one, whole; nothing of it")
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        XCTAssertTrue(failure.value is Stop, "\(String(describing: failure.value))")
    }
}
