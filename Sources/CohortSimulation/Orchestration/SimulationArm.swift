/// The methods a simulation compares.
public enum SimulationArm: String, CaseIterable, Sendable {
    /// The pre-trained source model, unchanged, on every hospital.
    case sourceOnly = "source-only"
    /// Each hospital fine-tunes the source model alone on its own labels.
    case localOnly = "local-only"
    case fedavg
    case fedprox
    /// FedBN: BatchNorm tensors stay at each hospital.
    case fedbn
    /// FedAvg with top-k + int8 + zlib deltas (error feedback at the nodes).
    case fedavgCompressed = "fedavg-compressed"
    /// FedBN with the same compressed deltas.
    case fedbnCompressed = "fedbn-compressed"
    /// FedAvg under central user-level DP (clipping at the nodes, Gaussian noise at the
    /// coordinator, RDP accounting). Not in `defaultNames`: run it with `--arms ...,fedavg-dp`.
    case fedavgDP = "fedavg-dp"
    /// FedAvg under secure aggregation: the coordinator sees only the sum. Not in `defaultNames`.
    case fedavgSecagg = "fedavg-secagg"
    /// Secure aggregation with distributed DP: the nodes add the noise, the coordinator never
    /// sees an un-noised sum. Not in `defaultNames`.
    case fedavgSecaggDP = "fedavg-secagg-dp"
    /// One fine-tune on every hospital's labels pooled: the privacy-violating upper reference.
    case pooled

    /// Arms run when none are named.
    public static let defaultNames = allCases.filter { ![.fedavgDP, .fedavgSecagg, .fedavgSecaggDP].contains($0) }.map(\.rawValue)

    /// Whether the arm runs as a coordinator with node processes.
    public var isFederated: Bool { [.fedavg, .fedprox, .fedbn, .fedavgCompressed, .fedbnCompressed, .fedavgDP, .fedavgSecagg, .fedavgSecaggDP].contains(self) }

    /// One line for the report.
    public var summary: String {
        switch self {
        case .sourceOnly: return "pre-trained source model, no adaptation"
        case .localOnly: return "each hospital fine-tunes alone on its own labels"
        case .fedavg: return "federated averaging of float32 deltas"
        case .fedprox: return "FedAvg with a proximal pull toward the global model at the nodes"
        case .fedbn: return "FedAvg with BatchNorm kept local at each hospital"
        case .fedavgCompressed: return "FedAvg with top-k + int8 + zlib deltas and error feedback"
        case .fedbnCompressed: return "FedBN with top-k + int8 + zlib deltas and error feedback"
        case .fedavgDP: return "FedAvg with central user-level differential privacy (clipped updates, Gaussian noise at the coordinator, BatchNorm statistics kept at each hospital)"
        case .fedavgSecagg: return "FedAvg with secure aggregation (masked fixed-point updates: the coordinator sees only their sum)"
        case .fedavgSecaggDP: return "FedAvg with secure aggregation and distributed differential privacy (each hospital adds its share of the noise)"
        case .pooled: return "all hospitals' labels pooled in one place (privacy-violating upper reference)"
        }
    }
}
