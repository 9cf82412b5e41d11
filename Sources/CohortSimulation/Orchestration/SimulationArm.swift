/// The methods a simulation compares.
public enum SimulationArm: String, CaseIterable, Sendable {
    /// The pre-trained source model, unchanged, on every hospital.
    case sourceOnly = "source-only"
    /// Each hospital re-estimates the source model's BatchNorm statistics on its own inputs (no labels).
    case sourceAdaBN = "source+adabn"
    /// Each hospital runs TENT on its own inputs (no labels).
    case sourceTENT = "source+tent"
    /// Each hospital runs SHOT on its own inputs (no labels, no source data).
    case sourceSHOT = "source+shot"
    /// A party holding the labelled source data and a hospital's unlabelled inputs runs DANN.
    /// Not in `defaultNames` (it trains on the source data for every hospital).
    case sourceDANN = "source+dann"
    /// The same with Deep CORAL. Not in `defaultNames`.
    case sourceCORAL = "source+coral"
    /// Each hospital fine-tunes the source model alone on its own labels.
    case localOnly = "local-only"
    case fedavg
    /// FedAvg whose plan has every node with few labels run AdaBN on all its inputs. Not in
    /// `defaultNames`.
    case fedavgAdaBN = "fedavg+adabn"
    /// Not in `defaultNames`.
    case fedprox
    /// FedBN: BatchNorm tensors stay at each hospital.
    case fedbn
    /// FedBN whose plan has every node with few labels run AdaBN on all its inputs.
    case fedbnAdaBN = "fedbn+adabn"
    /// The same plus the negative-transfer guard at every node.
    case fedbnAdaBNGuard = "fedbn+adabn+guard"
    /// FedAvg of LoRA factors: the base weights stay frozen; only the factors, the head and the
    /// BatchNorm statistics train and cross the wire. Not in `defaultNames`.
    case fedavgLoRA = "fedavg-lora"
    /// FedAvg with top-k + int8 + zlib deltas (error feedback at the nodes).
    case fedavgCompressed = "fedavg-compressed"
    /// FedBN with the same compressed deltas. Not in `defaultNames`.
    case fedbnCompressed = "fedbn-compressed"
    /// FedAvg under central user-level DP (clipping at the nodes, Gaussian noise at the
    /// coordinator, RDP accounting). Not in `defaultNames`: run it with `--arms ...,fedavg-dp`.
    case fedavgDP = "fedavg-dp"
    /// FedAvg under secure aggregation: the coordinator sees only the sum. Not in `defaultNames`.
    case fedavgSecagg = "fedavg-secagg"
    /// Secure aggregation with distributed DP: the nodes add the noise, the coordinator never
    /// sees an un-noised sum. Not in `defaultNames`.
    case fedavgSecaggDP = "fedavg-secagg-dp"
    /// FedAvg, then each hospital fine-tunes the global model on its own labels, the epoch
    /// chosen on its validation split (FedAvg-FT): personalised.
    case fedavgFT = "fedavg-ft"
    /// Ditto: FedAvg for the global model, and each hospital's own model pulled toward it.
    case ditto
    /// FedRep: the head stays at each hospital (trained first each round, alone); the rest is federated.
    case fedrep
    /// One fine-tune on every hospital's labels pooled: the privacy-violating upper reference.
    case pooled

    /// Arms run when none are named (about 5½ minutes on the default cohort on this 2-core
    /// machine; the ones left out cost 17–35 s each).
    public static let defaultNames = allCases.filter { !defaultLeftOut.contains($0) }.map(\.rawValue)

    /// Arms that run only when named in `--arms`. fedprox (within about a point of fedavg at
    /// μ = 0.1) and fedbn-compressed (within a point of fedbn) left the default list when
    /// fedavg-ft, ditto and fedrep joined it, to keep the default run near 5½ minutes.
    public static let defaultLeftOut: [SimulationArm] = [.fedavgDP, .fedavgSecagg, .fedavgSecaggDP, .sourceDANN, .sourceCORAL, .fedavgAdaBN, .fedavgLoRA,
                                                         .fedprox, .fedbnCompressed]

    /// The arms where each hospital ends with a model of its own from the federation (the plan's
    /// `personalization`): the claim "a personalised federated arm beats local-only at every
    /// hospital, and its mean beats the best non-personalised arm" is checked over these.
    public static let personalised: [SimulationArm] = [.fedavgFT, .ditto, .fedrep]

    /// Arms run when `--model PRESET` is given and none are named: the pre-trained model
    /// unchanged, full fine-tuning by FedAvg, and FedAvg of LoRA factors.
    public static let modelDefaultNames = [SimulationArm.sourceOnly, .fedavg, .fedavgLoRA].map(\.rawValue)

    /// Whether the arm runs as a coordinator with node processes.
    public var isFederated: Bool { [.fedavg, .fedprox, .fedbn, .fedavgCompressed, .fedbnCompressed, .fedavgDP, .fedavgSecagg, .fedavgSecaggDP, .fedbnAdaBN, .fedbnAdaBNGuard, .fedavgAdaBN, .fedavgLoRA, .fedavgFT, .ditto, .fedrep].contains(self) }

    /// The `cohort adapt` method of a `source+<method>` arm, nil for the others.
    public var adaptationMethod: String? {
        switch self {
        case .sourceAdaBN: return "adabn"
        case .sourceTENT: return "tent"
        case .sourceSHOT: return "shot"
        case .sourceDANN: return "dann"
        case .sourceCORAL: return "coral"
        default: return nil
        }
    }

    /// One line for the report.
    public var summary: String {
        switch self {
        case .sourceOnly: return "pre-trained source model, no adaptation"
        case .sourceAdaBN: return "source model with BatchNorm statistics re-estimated on each hospital's inputs (AdaBN, no labels)"
        case .sourceTENT: return "source model adapted by entropy minimisation of BatchNorm affine parameters on each hospital's inputs (TENT, no labels)"
        case .sourceSHOT: return "source model's feature extractor adapted on each hospital's inputs, head frozen (SHOT: information maximisation + pseudo-labels, no labels, no source data)"
        case .sourceDANN: return "source model trained on labelled source data and each hospital's unlabelled inputs with a domain-adversarial loss (DANN)"
        case .sourceCORAL: return "source model trained on labelled source data and each hospital's unlabelled inputs with a CORAL alignment loss"
        case .localOnly: return "each hospital fine-tunes alone on its own labels"
        case .fedavg: return "federated averaging of float32 deltas"
        case .fedavgAdaBN: return "FedAvg; hospitals with fewer than 100 labelled training rows re-estimate BatchNorm on all their inputs, labelled or not (AdaBN)"
        case .fedprox: return "FedAvg with a proximal pull toward the global model at the nodes"
        case .fedbn: return "FedAvg with BatchNorm kept local at each hospital"
        case .fedbnAdaBN: return "FedBN; hospitals with fewer than 100 labelled training rows re-estimate BatchNorm on all their inputs, labelled or not (AdaBN)"
        case .fedbnAdaBNGuard: return "fedbn+adabn, and every hospital keeps the best of the received, adapted and a small from-scratch model on its validation split (negative-transfer guard)"
        case .fedavgLoRA: return "FedAvg of LoRA factors (frozen base weights; the factors, the head and BatchNorm statistics train and cross the wire)"
        case .fedavgCompressed: return "FedAvg with top-k + int8 + zlib deltas and error feedback"
        case .fedbnCompressed: return "FedBN with top-k + int8 + zlib deltas and error feedback"
        case .fedavgDP: return "FedAvg with central user-level differential privacy (clipped updates, Gaussian noise at the coordinator, BatchNorm statistics kept at each hospital)"
        case .fedavgSecagg: return "FedAvg with secure aggregation (masked fixed-point updates: the coordinator sees only their sum)"
        case .fedavgSecaggDP: return "FedAvg with secure aggregation and distributed differential privacy (each hospital adds its share of the noise)"
        case .fedavgFT: return "FedAvg, then each hospital fine-tunes the global model on its own labels, the epoch chosen on its validation split (FedAvg-FT)"
        case .ditto: return "Ditto: FedAvg for the global model, and each hospital's own model trained with a pull λ toward it"
        case .fedrep: return "FedRep: the head stays at each hospital and never leaves it (trained alone first each round); the rest is federated"
        case .pooled: return "all hospitals' labels pooled in one place (privacy-violating upper reference)"
        }
    }
}
