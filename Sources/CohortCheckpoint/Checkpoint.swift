import CohortData
import CohortNN
import CohortTensor
import Foundation

/// Facts recorded with a checkpoint.
public struct CheckpointMetadata: Codable, Equatable, Sendable {
    /// ISO 8601 time of writing.
    public var created: String
    /// Where the weights came from (e.g. `pretrain source-domain seed 1`, `import model.safetensors`).
    public var source: String
    /// Training history, one entry per event, free-form (e.g. JSON lines of epoch records).
    public var history: [String]
    /// Named metrics, e.g. validation accuracy.
    public var metrics: [String: Double]
    /// The fitted preprocessing (schema and statistics) that turns raw CSV rows into this
    /// model's inputs, or nil. Absent from the JSON when nil, so checkpoints without it are
    /// byte-for-byte what older builds wrote and older checkpoints read as nil.
    public var preprocessing: FittedPreprocessing?

    /// Metadata stamped with the current time.
    public init(source: String, history: [String] = [], metrics: [String: Double] = [:], preprocessing: FittedPreprocessing? = nil,
                created: Date = Date()) {
        self.created = Timestamp.iso8601(created)
        self.source = source
        self.history = history
        self.metrics = metrics
        self.preprocessing = preprocessing
    }
}

/// A model on disk: its architecture (so it can be rebuilt from the file alone), metadata,
/// and named tensors (parameters and buffers).
public struct Checkpoint {
    public var architecture: ModelSpec?
    public var metadata: CheckpointMetadata
    public var tensors: [(name: String, value: Tensor)]

    /// A checkpoint of arbitrary named tensors.
    public init(architecture: ModelSpec?, metadata: CheckpointMetadata, tensors: [(name: String, value: Tensor)]) {
        self.architecture = architecture
        self.metadata = metadata
        self.tensors = tensors
    }

    /// A checkpoint of a model's current state.
    public init(model: Sequential, metadata: CheckpointMetadata) {
        self.init(architecture: model.spec, metadata: metadata, tensors: model.stateDict())
    }

    /// The tensors by name.
    public var stateDictionary: [String: Tensor] {
        Dictionary(tensors.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
    }

    /// Rebuilds the model from the stored architecture and loads every tensor (strict).
    public func makeModel(path: String = "checkpoint") throws -> Sequential {
        guard let architecture else { throw CheckpointError.mismatch(path: path, problems: ["no architecture stored"]) }
        let model = try Sequential(spec: architecture, seed: 0)
        do { try model.load(stateDictionary) } catch {
            throw CheckpointError.mismatch(path: path, problems: ["\(error)"])
        }
        return model
    }
}
