import CohortCheckpoint
import CohortTensor

/// The coordinator sent a global model no honest site can train on: a body that does not
/// decode (the decoder refuses NaN and infinity, among others), a weight that is not finite, or a parameter beyond `FederatedNode.maxGlobalMagnitude`. The fault is the
/// coordinator's (a poisoned or overflowed aggregate), never the site's data or learning rate;
/// the node reports it to the coordinator in an ERROR and stops.
public struct BadGlobalModel: Error, CustomStringConvertible, Sendable {
    /// What was wrong with the model.
    public enum Fault: Equatable, Sendable {
        /// A NaN or an infinity.
        case nonFinite
        /// A parameter whose magnitude exceeds the bound.
        case outOfBudget(magnitude: Float, bound: Float)
        /// The MODEL's body was refused by the delta decoder (a non-finite value, a bad layout).
        case undecodable(DeltaDecodeError)
    }
    public let round: Int
    public let modelVersion: Int
    /// The first tensor found at fault (in name order); nil when the decoder names none.
    public let tensor: String?
    public let fault: Fault

    public var description: String {
        let what: String
        switch fault {
        case .nonFinite: what = "holds a non-finite value (NaN or infinity)"
        case let .outOfBudget(magnitude, bound): what = "holds a weight of magnitude \(magnitude), beyond the budget \(bound)"
        case let .undecodable(error): what = "cannot be decoded (\(error))"
        }
        let subject = tensor.map { "tensor '\($0)'" } ?? "its body"
        return "the coordinator's global model of round \(round) (version \(modelVersion)) is bad: \(subject) \(what); "
            + "the coordinator's aggregate is at fault, not this site's data or learning rate"
    }

    /// Checks every tensor of `weights` for finiteness, and those in `parameters` for magnitude
    /// at most `bound`; throws the first fault, in tensor-name order.
    static func check(_ weights: [String: Tensor], parameters: Set<String>, bound: Float, round: Int, modelVersion: Int) throws {
        for name in weights.keys.sorted() {
            guard let worst = weights[name]!.data.withUnsafeBufferPointer(VectorKernels.largestMagnitude) else {
                throw BadGlobalModel(round: round, modelVersion: modelVersion, tensor: name, fault: .nonFinite)
            }
            if parameters.contains(name) && worst > bound {
                throw BadGlobalModel(round: round, modelVersion: modelVersion, tensor: name, fault: .outOfBudget(magnitude: worst, bound: bound))
            }
        }
    }
}
