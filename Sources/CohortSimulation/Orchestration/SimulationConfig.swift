import CohortAdapt
import CohortCheckpoint
import CohortNN
import Foundation

/// Everything a `cohort simulate` run is made of. Every field has a default; a JSON config
/// file names only what it changes, and command-line flags override the file.
public struct SimulationConfig: Codable, Sendable, Equatable {
    /// `imaging` (1×32×32 scans, CNN) or `tabular` (clinical CSV, MLP).
    public var kind = "imaging"
    /// Number of hospitals.
    public var sites = 5
    /// Federated rounds (local-only and pooled train rounds × localEpochs epochs).
    public var rounds = 10
    /// Which arms run, in order (see `SimulationArm`).
    public var arms: [String] = SimulationArm.defaultNames
    public var seed: UInt64 = 1
    /// CI-sized cohort, fewer rounds and epochs.
    public var quick = false
    /// Output folder.
    public var out = "runs/simulate"
    /// Where pre-trained source models are cached (by seed and config).
    public var cacheDir = "runs/cache"
    /// Source pre-training.
    public var pretrainEpochs = 8
    /// Local training per round at each node.
    public var localEpochs = 1
    public var batchSize = 32
    public var learningRate: Float = 0.02
    public var momentum: Float = 0.9
    /// FedProx's μ.
    public var proximalMu: Float = 0.1
    /// The ditto arm's pull λ toward the global model.
    public var dittoLambda: Float = 0.1
    /// The compressed arm's codec: top-k fraction, int8 blocks, zlib.
    public var compressedTopK = 0.02
    /// Seconds a federated round may take before stragglers are dropped.
    public var roundTimeout: Double = 300
    /// The private arms (fedavg-dp, fedavg-secagg-dp): clip norm C of each node's update.
    public var dpClipNorm = 0.3
    /// The privacy budget ε at `dpDelta`: σ is chosen so the planned rounds spend at most this.
    public var dpEpsilon = 10.0
    /// When set, fixes σ instead of `dpEpsilon` (ε then follows from σ and the rounds).
    public var dpNoiseMultiplier: Double? = nil
    public var dpDelta = 1e-5
    /// Name prefixes of the tensors the private arms train (empty: all). Noise grows with the
    /// number of values released, so training only the head is the private recipe.
    public var dpTrainablePrefixes = ["head"]
    /// Federated arms send every node the whole model each round (the coordinator's
    /// `--full-models`), for comparing MODEL bytes with and without deltas.
    public var fullModels = false
    /// A published architecture (`resnet18`, ... see `ModelPreset`) pre-trained and federated
    /// instead of the small CNN (imaging only); nil keeps the small CNN.
    public var model: String? = nil
    /// The preset's size knobs (e.g. `{"width": 16}`); nil takes reduced defaults that keep a
    /// run to minutes (`SimulationBackbone.reducedDefaults`).
    public var presetOptions: PresetKnobs? = nil
    /// The `fedavg-lora` arm: LoRA rank r, scale α (nil: α = r) and node-name patterns (empty:
    /// the model's block convolutions or projections); `loraTrainablePrefixes` also train and
    /// cross the wire (nil: the head).
    public var loraRank = 4
    public var loraAlpha: Float? = nil
    public var loraTargets: [String] = []
    public var loraTrainablePrefixes: [String]? = nil
    /// A dataset schema file (tabular only): the cohort is drawn from it (column names, types,
    /// categories, missing cells, class names or a regression target; `SchemaCohort`) and every
    /// process reads its CSV files through it (`--schema`). Nil: the plain synthetic cohort.
    public var schema: String? = nil

    /// Arms a schema run starts with when none are named: those that read CSV files through
    /// the schema (the adaptation arms read raw tensors and are refused).
    public static let schemaDefaultArms = ["source-only", "local-only", "fedavg", "fedprox", "pooled"]

    public init() {}

    /// The `--quick` preset: a small cohort, 5 rounds of 2 local epochs, 10 pre-training epochs.
    public mutating func applyQuickPreset() {
        quick = true
        rounds = 5
        localEpochs = 2
        pretrainEpochs = 10
    }

    private enum CodingKeys: String, CodingKey {
        case kind, sites, rounds, arms, seed, quick, out, cacheDir, pretrainEpochs, localEpochs, batchSize, learningRate, momentum
        case proximalMu, dittoLambda, compressedTopK, roundTimeout, dpClipNorm, dpEpsilon, dpNoiseMultiplier, dpDelta, dpTrainablePrefixes, fullModels
        case model, presetOptions, loraRank, loraAlpha, loraTargets, loraTrainablePrefixes, schema
    }

    /// Decodes a config; fields left out keep their defaults.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SimulationConfig()
        kind = try c.decodeIfPresent(String.self, forKey: .kind) ?? d.kind
        sites = try c.decodeIfPresent(Int.self, forKey: .sites) ?? d.sites
        rounds = try c.decodeIfPresent(Int.self, forKey: .rounds) ?? d.rounds
        arms = try c.decodeIfPresent([String].self, forKey: .arms) ?? d.arms
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        quick = try c.decodeIfPresent(Bool.self, forKey: .quick) ?? d.quick
        out = try c.decodeIfPresent(String.self, forKey: .out) ?? d.out
        cacheDir = try c.decodeIfPresent(String.self, forKey: .cacheDir) ?? d.cacheDir
        pretrainEpochs = try c.decodeIfPresent(Int.self, forKey: .pretrainEpochs) ?? d.pretrainEpochs
        localEpochs = try c.decodeIfPresent(Int.self, forKey: .localEpochs) ?? d.localEpochs
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
        learningRate = try c.decodeIfPresent(Float.self, forKey: .learningRate) ?? d.learningRate
        momentum = try c.decodeIfPresent(Float.self, forKey: .momentum) ?? d.momentum
        proximalMu = try c.decodeIfPresent(Float.self, forKey: .proximalMu) ?? d.proximalMu
        dittoLambda = try c.decodeIfPresent(Float.self, forKey: .dittoLambda) ?? d.dittoLambda
        compressedTopK = try c.decodeIfPresent(Double.self, forKey: .compressedTopK) ?? d.compressedTopK
        roundTimeout = try c.decodeIfPresent(Double.self, forKey: .roundTimeout) ?? d.roundTimeout
        dpClipNorm = try c.decodeIfPresent(Double.self, forKey: .dpClipNorm) ?? d.dpClipNorm
        dpEpsilon = try c.decodeIfPresent(Double.self, forKey: .dpEpsilon) ?? d.dpEpsilon
        dpNoiseMultiplier = try c.decodeIfPresent(Double.self, forKey: .dpNoiseMultiplier)
        dpTrainablePrefixes = try c.decodeIfPresent([String].self, forKey: .dpTrainablePrefixes) ?? d.dpTrainablePrefixes
        dpDelta = try c.decodeIfPresent(Double.self, forKey: .dpDelta) ?? d.dpDelta
        fullModels = try c.decodeIfPresent(Bool.self, forKey: .fullModels) ?? d.fullModels
        model = try c.decodeIfPresent(String.self, forKey: .model)
        presetOptions = try c.decodeIfPresent(PresetKnobs.self, forKey: .presetOptions)
        loraRank = try c.decodeIfPresent(Int.self, forKey: .loraRank) ?? d.loraRank
        loraAlpha = try c.decodeIfPresent(Float.self, forKey: .loraAlpha)
        loraTargets = try c.decodeIfPresent([String].self, forKey: .loraTargets) ?? d.loraTargets
        loraTrainablePrefixes = try c.decodeIfPresent([String].self, forKey: .loraTrainablePrefixes)
        schema = try c.decodeIfPresent(String.self, forKey: .schema)
        if schema != nil && !c.contains(.arms) { arms = Self.schemaDefaultArms }
        // A config naming a model but no arms gets the model's arms.
        if model != nil && !c.contains(.arms) { arms = SimulationArm.modelDefaultNames }
    }

    /// Reads a JSON config file; errors name the file.
    public static func load(path: String) throws -> SimulationConfig {
        guard let data = FileManager.default.contents(atPath: path) else { throw SimulationError("cannot read config '\(path)'") }
        do { return try JSONDecoder().decode(SimulationConfig.self, from: data) } catch {
            throw SimulationError("\(path): not a simulation config: \(error)")
        }
    }

    /// Checks every field; the error names it.
    public func validate() throws {
        guard ["imaging", "tabular"].contains(kind) else { throw SimulationError("kind must be imaging or tabular, got '\(kind)'") }
        guard (2...50).contains(sites) else { throw SimulationError("sites must be in 2...50, got \(sites)") }
        guard (1...1000).contains(rounds) else { throw SimulationError("rounds must be in 1...1000, got \(rounds)") }
        guard !arms.isEmpty else { throw SimulationError("arms: name at least one arm") }
        for arm in arms where SimulationArm(rawValue: arm) == nil {
            throw SimulationError("unknown arm '\(arm)' (known: \(SimulationArm.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard Set(arms).count == arms.count else { throw SimulationError("arms: an arm is listed twice") }
        guard pretrainEpochs >= 1, localEpochs >= 1, batchSize >= 1 else { throw SimulationError("pretrainEpochs, localEpochs and batchSize must be ≥ 1") }
        guard learningRate > 0, learningRate.isFinite, momentum >= 0, momentum < 1 else { throw SimulationError("learningRate must be > 0 and momentum in [0, 1)") }
        guard dpClipNorm > 0, dpClipNorm.isFinite, dpEpsilon > 0, dpEpsilon.isFinite, dpDelta > 0, dpDelta < 1 else {
            throw SimulationError("dpClipNorm and dpEpsilon must be positive and finite, dpDelta in (0, 1)")
        }
        if let s = dpNoiseMultiplier, !(s > 0 && s.isFinite) { throw SimulationError("dpNoiseMultiplier must be positive and finite, got \(s)") }
        guard compressedTopK > 0 && compressedTopK <= 1 else { throw SimulationError("compressedTopK must be in (0, 1], got \(compressedTopK)") }
        guard (1...LoRASpec.maxRank).contains(loraRank) else { throw SimulationError("loraRank must be in 1...\(LoRASpec.maxRank), got \(loraRank)") }
        if let a = loraAlpha, !(a > 0 && a.isFinite) { throw SimulationError("loraAlpha must be positive and finite, got \(a)") }
        if schema != nil {
            guard kind == "tabular" else { throw SimulationError("schema: a dataset schema describes CSV tables; it needs kind tabular (kind is \(kind))") }
            let refused = arms.compactMap(SimulationArm.init(rawValue:)).filter { $0.adaptationMethod != nil }.map(\.rawValue)
            guard refused.isEmpty else {
                throw SimulationError("arms \(refused.joined(separator: ", ")) adapt on raw tensors and do not read a schema; leave them out with schema")
            }
        }
        if let model {
            guard kind == "imaging" else { throw SimulationError("model \(model): only the imaging cohort takes a preset (kind is \(kind))") }
            // The knobs are checked by writing the graph for the imaging cohort's scans.
            _ = try SimulationBackbone(name: model, knobs: presetOptions).spec(classes: 3, inputShape: [32, 32, 1])
        } else if presetOptions != nil {
            throw SimulationError("presetOptions needs model (a preset name)")
        }
    }

    /// Names `path` as the dataset schema; arms still at the default list become
    /// `schemaDefaultArms`.
    public mutating func useSchema(_ path: String) {
        schema = path
        if arms == SimulationArm.defaultNames { arms = Self.schemaDefaultArms }
    }

    /// Names `preset` as the model; arms still at the default list become the model's
    /// (`SimulationArm.modelDefaultNames`), so a bare `--model` run stays short.
    public mutating func useModel(_ preset: String) {
        model = preset
        if arms == SimulationArm.defaultNames { arms = SimulationArm.modelDefaultNames }
    }

    /// The settings that decide the pre-trained source model (its cache key).
    var pretrainKey: String {
        var base = "\(kind)-s\(seed)-\(quick ? "quick" : "full")-n\(sites)-e\(pretrainEpochs)-b\(batchSize)-v2"
        if let schema {
            // The schema decides the data and the model's input: its bytes are part of the key.
            let bytes = FileManager.default.contents(atPath: schema).map { [UInt8]($0) } ?? Array(schema.utf8)
            let digest = SHA256()
            digest.update(bytes)
            base += "-schema" + SHA256.hex(Array(digest.finish().prefix(6)))
        }
        guard let model, let backbone = try? SimulationBackbone(name: model, knobs: presetOptions) else { return base }
        let knobs = backbone.knobs.summary.filter { $0.isLetter || $0.isNumber || $0 == "," || $0 == ":" || $0 == "." }
            .replacingOccurrences(of: ":", with: "").replacingOccurrences(of: ",", with: "-")
        return base + "-\(backbone.preset.rawValue)" + (knobs.isEmpty ? "" : "-\(knobs)")
    }
}
