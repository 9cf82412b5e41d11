import CohortCheckpoint
import CohortFederation
import CohortNN
import CohortTransport
import Foundation

/// Nodes that speak the real protocol but do not train: each authenticates, takes the MODEL
/// stream (keeping only its header), and answers with a dense float32 UPDATE of the model's
/// tensors whose values are made as they are sent, so a sender holds one small chunk, not an
/// update. Used to load a coordinator with large updates from another process.
public enum SyntheticNodes {
    /// Node `i`'s name and 16-byte secret.
    public static func name(_ i: Int) -> String { String(format: "node%05d", i) }
    public static func secret(_ i: Int) -> [UInt8] { (0..<16).map { UInt8(truncatingIfNeeded: i &* 131 &+ $0 &* 7 &+ 1) } }

    /// The value update `node` sends for element `i` of tensor `t`.
    @inline(__always) static func value(node: Int, tensor t: Int, index i: Int) -> Float {
        Float(node + 1) * 1e-3 + Float((i &+ t) % 7) * 1e-4
    }

    /// Runs nodes `0..<count` against `host:port` until the coordinator says BYE (or drops
    /// them); `shapes` are the model's tensors in order; each node reports `samples` samples.
    /// Returns how many nodes sent an update.
    public static func run(host: String, port: UInt16, count: Int, shapes: [(name: String, shape: [Int])], samples: Int = 100,
                           chunkSize: Int = 64 << 10, timeout: Double = 300) throws -> Int {
        let layout = try DeltaEncoder.float32Layout(shapes)
        let sent = Locked(0)
        let group = DispatchGroup()
        for i in 0..<count {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                do {
                    if try serve(node: i, host: host, port: port, layout: layout, samples: samples, chunkSize: chunkSize, timeout: timeout) {
                        sent.update { $0 += 1 }
                    }
                } catch {
                    FileHandle.standardError.write(Data("synthetic \(name(i)): \(error)\n".utf8))
                }
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        group.wait()
        return sent.value
    }

    private static func serve(node: Int, host: String, port: UInt16, layout: [DeltaEncoder.LayoutPart], samples: Int,
                              chunkSize: Int, timeout: Double) throws -> Bool {
        var socket: TCPSocket?
        for attempt in 0..<50 {
            do { socket = try TCPSocket.connect(host: host, port: port, timeout: 5); break } catch {
                if attempt == 49 { throw error }
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        let conn = FramedConnection(stream: socket!, maxPayload: Coordinator.maxFrameBytes, readTimeout: timeout, writeTimeout: timeout)
        defer { conn.close() }
        let (version, _) = try Handshake.connect(conn, node: name(node), secret: secret(node), samples: samples)
        var answered = false
        while true {
            let frame: Frame
            do { frame = try conn.receive(timeout: timeout) } catch { return answered }
            switch MessageType(rawValue: frame.type) {
            case .model:
                var head: [UInt8] = []
                try conn.receiveStreamed(frame, budget: .max, timeout: timeout) { data in
                    if head.count < 4 + RoundMessages.maxHeaderBytes { head += data.prefix(4 + RoundMessages.maxHeaderBytes - head.count) }
                }
                let j = Int(UInt32(head[0]) | UInt32(head[1]) << 8 | UInt32(head[2]) << 16 | UInt32(head[3]) << 24)
                let header = try JSONDecoder().decode(RoundMessages.ModelHeader.self, from: Data(head[4..<(4 + j)]))
                try sendUpdate(conn, version: version, node: node, header: header, layout: layout, samples: samples, chunkSize: chunkSize)
                answered = true
            case .bye:
                return answered
            default:
                continue
            }
        }
    }

    /// Streams the UPDATE: start frame, then chunks filled from `layout` as they go.
    private static func sendUpdate(_ conn: FramedConnection, version: UInt16, node: Int, header: RoundMessages.ModelHeader,
                                   layout: [DeltaEncoder.LayoutPart], samples: Int, chunkSize: Int) throws {
        let prefix = try RoundMessages.payload(RoundMessages.UpdateHeader(round: header.round, modelVersion: header.modelVersion,
                                                                         samples: samples, metrics: [:]), body: [])
        let length = prefix.count + layout.reduce(0) { total, part in
            switch part {
            case .bytes(let b): return total + b.count
            case .values(_, let count): return total + 4 * count
            }
        }
        try conn.send(Frame(version: version, type: MessageType.update.rawValue, payload: withUnsafeBytes(of: UInt64(length).littleEndian) { Array($0) }))
        var chunk: [UInt8] = []
        chunk.reserveCapacity(4 + chunkSize)
        var index: UInt32 = 0
        func flush() throws {
            guard chunk.count > 4 else { return }
            withUnsafeBytes(of: index.littleEndian) { raw in for b in 0..<4 { chunk[b] = raw[b] } }
            try conn.send(Frame(version: version, type: MessageType.chunk.rawValue, payload: chunk))
            index += 1
            chunk.removeAll(keepingCapacity: true)
            chunk += [0, 0, 0, 0]
        }
        chunk += [0, 0, 0, 0]
        func append(_ bytes: [UInt8]) throws {
            for b in bytes { chunk.append(b); if chunk.count == 4 + chunkSize { try flush() } }
        }
        try append(prefix)
        for part in layout {
            switch part {
            case .bytes(let b):
                try append(b)
            case .values(let t, let count):
                var i = 0
                while i < count {
                    let room = (4 + chunkSize - chunk.count) / 4
                    if room == 0 {   // a value would straddle chunks: finish this one byte-wise
                        try append(withUnsafeBytes(of: value(node: node, tensor: t, index: i).bitPattern.littleEndian) { Array($0) })
                        i += 1
                        continue
                    }
                    let n = min(room, count - i), at = chunk.count
                    chunk.append(contentsOf: repeatElement(0, count: 4 * n))
                    chunk.withUnsafeMutableBytes { raw in
                        for e in 0..<n { raw.storeBytes(of: value(node: node, tensor: t, index: i + e).bitPattern.littleEndian, toByteOffset: at + 4 * e, as: UInt32.self) }
                    }
                    i += n
                    if chunk.count == 4 + chunkSize { try flush() }
                }
            }
        }
        try flush()
    }
}
