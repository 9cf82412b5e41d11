import CohortCheckpoint
import CohortTensor
import CohortTransport
import Foundation

extension RoundMessages {
    /// A MODEL or EVALUATE message (header, then the weights as a dense float32 delta-codec
    /// body), streamed straight from the tensors: the message is never built in memory, and
    /// the same message can go to every node. A header without `modelDigest` gets the digest
    /// of `weights`, which must then be the whole model (a delta's header carries its own).
    public static func modelMessage(_ type: MessageType, header: ModelHeader, weights: [(name: String, value: Tensor)],
                                    chunkSize: Int = StreamedMessage.defaultChunkSize) throws -> StreamedMessage {
        var header = header
        if header.modelDigest == nil {
            precondition(header.baseVersion == nil, "a delta MODEL's header must carry the whole model's digest")
            header.modelDigest = ModelDigest.hex(weights)
        }
        let json = Array(try JSONEncoder().encode(header))
        let parts = try DeltaEncoder.float32Parts(weights).map { part -> MessageSegment in
            switch part {
            case .bytes(let b): return .bytes(b)
            case .floats(let f): return .floats(f)
            }
        }
        return StreamedMessage(type: type.rawValue, segments: [.bytes(headerLength(json.count) + json)] + parts, chunkSize: chunkSize)
    }

    /// The 4-byte little-endian length that precedes a message's JSON header.
    static func headerLength(_ n: Int) -> [UInt8] {
        let v = UInt32(n)
        return [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)]
    }
}

/// Reads a round message (u32 length J, J bytes of JSON header, then a delta-codec body) as its
/// bytes arrive: decodes the header as soon as it is in, then hands the body to the delta
/// decoder `onHeader` makes for it, whose records come out as they complete.
final class RoundMessageReader<Header: Decodable> {
    private let length: Int
    private let onHeader: (Header, _ bodyLength: Int) throws -> DeltaStreamDecoder
    private var prefix: [UInt8] = []
    private var headerLength: Int?
    private(set) var header: Header?
    private var body: DeltaStreamDecoder?

    /// A reader for a message of `length` bytes.
    init(length: Int, onHeader: @escaping (Header, _ bodyLength: Int) throws -> DeltaStreamDecoder) {
        self.length = length
        self.onHeader = onHeader
    }

    /// Feeds the next bytes; `emit` gets each body record they complete (with `piecewise`,
    /// `pieces` gets large dense records piece by piece: `DeltaStreamDecoder.feed(_:piecewise:pieces:_:)`).
    func feed(_ bytes: UnsafeRawBufferPointer, piecewise: Bool = false, pieces: (DeltaRecordPiece) throws -> Void = { _ in },
              _ emit: (DeltaRecord) throws -> Void) throws {
        var rest = bytes
        if body == nil {
            let want = (headerLength.map { 4 + $0 } ?? 4) - prefix.count
            let n = min(want, rest.count)
            prefix += rest.prefix(n)
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
            if headerLength == nil && prefix.count == 4 {
                let j = Int(UInt32(prefix[0]) | UInt32(prefix[1]) << 8 | UInt32(prefix[2]) << 16 | UInt32(prefix[3]) << 24)
                guard j <= RoundMessages.maxHeaderBytes, 4 + j <= length else {
                    throw AggregationError("message header length \(j) does not fit the message of \(length) bytes")
                }
                headerLength = j
                return try feed(rest, piecewise: piecewise, pieces: pieces, emit)
            }
            guard let j = headerLength, prefix.count == 4 + j else { return }
            let decoded: Header
            do { decoded = try JSONDecoder().decode(Header.self, from: Data(prefix[4...])) } catch {
                throw AggregationError("malformed \(Header.self) JSON: \(error)")
            }
            header = decoded
            body = try onHeader(decoded, length - 4 - j)
        }
        try body!.feed(rest, piecewise: piecewise, pieces: pieces, emit)
    }

    /// Checks the message was whole; returns its header.
    func finish() throws -> Header {
        guard let header, let body else { throw AggregationError("message of \(length) bytes ended inside its header") }
        try body.finish()
        return header
    }
}
