import CohortTransport
import FuzzSupport

/// Frames off the wire: `FramedConnection.receive` (header, size limit, CRC, version) and
/// streamed messages (`receiveStreamedBytes`: announced length, chunk order and sizes).
/// Each input is tried as sent and with every frame's CRC recomputed.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrame(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = FuzzInput.bytes(data, size)
    receiveAll(input)
    receiveAll(Checksums.withFrameCRCs(input))
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzFrameInit(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    FuzzInput.writeSeedsIfAsked(frameSeeds)
    return 0
}

/// Receives frames until the bytes run out or one is refused. A frame that is accepted must
/// re-encode to exactly the bytes it came from.
func receiveAll(_ input: [UInt8]) {
    let stream = MemoryStream(input)
    let conn = FramedConnection(stream: stream, maxPayload: 1 << 20, readTimeout: 1, writeTimeout: 1)
    for _ in 0..<64 {
        let before = stream.consumed
        guard let frame = try? conn.receive() else { return }
        if frame.encoded() != Array(input[before..<stream.consumed]) {
            fatalError("frame re-encodes differently from the bytes it was decoded from")
        }
        if conn.expectedVersion == nil { conn.expectedVersion = frame.version }
        if (try? StreamedMessage.announcedLength(frame)) != nil {
            _ = try? conn.receiveStreamedBytes(frame, budget: 1 << 20, timeout: 1)
        }
    }
}

/// Real frames: a HELLO, a heartbeat-sized empty frame, and streamed messages in one and
/// several chunks (with a heartbeat between chunks).
func frameSeeds() throws -> [(name: String, bytes: [UInt8])] {
    let v = ProtocolVersion.current
    let hello = Frame(version: v, type: MessageType.hello.rawValue,
                      payload: Array(#"{"versions":[3],"node":"site-a","samples":1200}"#.utf8)).encoded()
    let empty = Frame(version: v, type: MessageType.heartbeat.rawValue, payload: []).encoded()
    var seeds: [(name: String, bytes: [UInt8])] = [("hello", hello), ("empty", empty), ("hello-empty-hello", hello + empty + hello)]
    for (name, chunk) in [("streamed-one-chunk", 1 << 20), ("streamed-chunks", 7)] {
        let stream = MemoryStream([], recording: true)
        let conn = FramedConnection(stream: stream)
        let message = StreamedMessage(type: MessageType.update.rawValue, bytes: (0..<40).map { UInt8($0) }, chunkSize: chunk)
        try conn.send(message, version: v)
        seeds.append((name, stream.written))
    }
    return seeds
}
