import CohortCheckpoint
import CohortNN
import CohortTensor
import CohortTransport
import Foundation

/// The MODEL and UPDATE messages of a round (spec: protocols/wire.md).
///
/// Payload: u32 little-endian length J, J bytes of JSON header, then a tensor body in the delta
/// codec's format (protocols/delta-codec.md), decoded against the expected shapes with a byte
/// budget, so a malformed body is rejected before it can reach the model or the aggregate.
public enum RoundMessages {
    /// MODEL header: the round, the plan and the architecture; the body holds the global
    /// weights, or with `baseVersion` only the tensors whose bits changed after that version.
    public struct ModelHeader: Codable, Sendable {
        public var round: Int
        public var modelVersion: Int
        public var plan: TrainingPlan
        public var architecture: ModelSpec
        /// Under `plan.secureAggregation`: this node's part in the round (absent otherwise).
        public var secureAggregation: SecureAggregationMessages.Assignment? = nil
        /// Absent: the body holds every tensor. Set: the body holds the tensors whose bits
        /// changed after global version `baseVersion`; every other tensor is as in that version.
        public var baseVersion: Int? = nil
        /// `ModelDigest.hex` of the whole global model of `modelVersion` (protocol 4; protocol 3
        /// carried `modelSHA256`).
        public var modelDigest: String? = nil

        public init(round: Int, modelVersion: Int, plan: TrainingPlan, architecture: ModelSpec,
                    secureAggregation: SecureAggregationMessages.Assignment? = nil) {
            self.round = round; self.modelVersion = modelVersion; self.plan = plan
            self.architecture = architecture; self.secureAggregation = secureAggregation
        }
    }

    /// UPDATE header: which round and model it answers, the node's sample count and metrics.
    public struct UpdateHeader: Codable, Sendable {
        public var round: Int
        public var modelVersion: Int
        public var samples: Int
        public var metrics: [String: Double]

        public init(round: Int, modelVersion: Int, samples: Int, metrics: [String: Double]) {
            self.round = round; self.modelVersion = modelVersion; self.samples = samples; self.metrics = metrics
        }
    }

    /// EVAL_RESULT header: the node's metrics for the model of an EVALUATE message (no body).
    public typealias EvalResultHeader = UpdateHeader

    /// Largest JSON header accepted.
    public static let maxHeaderBytes = 1 << 20

    /// Builds a payload from a header and a body.
    public static func payload<H: Encodable>(_ header: H, body: [UInt8]) throws -> [UInt8] {
        let json = Array(try JSONEncoder().encode(header))
        return headerLength(json.count) + json + body
    }

    /// Splits a payload into its decoded header and the body bytes.
    public static func parse<H: Decodable>(_ payload: [UInt8], as: H.Type) throws -> (header: H, body: [UInt8]) {
        guard payload.count >= 4 else { throw AggregationError("message too short for its header length") }
        let n = Int(UInt32(payload[0]) | UInt32(payload[1]) << 8 | UInt32(payload[2]) << 16 | UInt32(payload[3]) << 24)
        guard n <= maxHeaderBytes, 4 + n <= payload.count else { throw AggregationError("message header length \(n) does not fit the payload of \(payload.count) bytes") }
        do {
            return (try JSONDecoder().decode(H.self, from: Data(payload[4..<(4 + n)])), Array(payload[(4 + n)...]))
        } catch {
            throw AggregationError("malformed \(H.self) JSON: \(error)")
        }
    }

    /// Encodes full float32 weights (the MODEL body).
    public static func weightsBody(_ state: [(name: String, value: Tensor)]) throws -> [UInt8] {
        try DeltaEncoder(config: DeltaCodecConfig()).encode(try ModelDelta(state))
    }

    /// Decodes a MODEL body against the model's tensor shapes; with `complete: false` (a delta
    /// MODEL) tensors may be absent.
    public static func decodeWeights(_ body: [UInt8], shapes: [String: [Int]], complete: Bool = true) throws -> [String: Tensor] {
        let budget = shapes.values.reduce(0) { $0 + $1.reduce(1, *) } * 4 + 1 << 20
        let delta = try DeltaDecoder(expectedShapes: shapes, maxBytes: budget, requireAllTensors: complete).decode(body)
        return Dictionary(uniqueKeysWithValues: delta.entries.map { ($0.name, $0.value) })
    }
}
