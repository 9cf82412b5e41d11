import CohortCheckpoint
import CohortFederation
import CohortTensor
import CohortTransport
import Foundation

/// A node played by a test: it authenticates with `samples`, and answers every MODEL with an
/// UPDATE carrying exactly `delta` (by tensor name) and `metrics`, until the coordinator says BYE
/// or closes the connection. What an attacker holding a valid secret can send.
enum CraftedNode {
    static func start(port: UInt16, name: String, secret: [UInt8], samples: Int, delta: [(String, [Int], Float)],
                      metrics: [String: Double] = [:]) -> DispatchSemaphore {
        let done = DispatchSemaphore(value: 0)
        let entries = delta.map { ($0.0, $0.1, $0.2) }
        Thread {
            defer { done.signal() }
            guard let socket = try? TCPSocket.connect(host: "127.0.0.1", port: port, timeout: 5) else { return }
            let conn = FramedConnection(stream: socket, readTimeout: 30)
            defer { conn.close() }
            guard (try? Handshake.connect(conn, node: name, secret: secret, samples: samples)) != nil else { return }
            while let frame = try? conn.receive(timeout: 30) {
                if frame.type == MessageType.bye.rawValue { return }
                guard frame.type == MessageType.model.rawValue else { continue }
                guard let payload = try? conn.receiveStreamedBytes(frame, budget: 1 << 30, timeout: 10),
                      let (header, _) = try? RoundMessages.parse(payload, as: RoundMessages.ModelHeader.self),
                      let d = try? ModelDelta(entries.map { ($0.0, Tensor(shape: $0.1, data: [Float](repeating: $0.2, count: $0.1.reduce(1, *)))) }),
                      let body = try? DeltaEncoder(config: DeltaCodecConfig()).encode(d) else { return }
                let update = RoundMessages.UpdateHeader(round: header.round, modelVersion: header.modelVersion, samples: samples, metrics: metrics)
                guard let bytes = try? RoundMessages.payload(update, body: body),
                      (try? conn.send(StreamedMessage(type: MessageType.update.rawValue, bytes: bytes), version: ProtocolVersion.current)) != nil else { return }
            }
        }.start()
        return done
    }
}
