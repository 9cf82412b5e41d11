import Foundation

/// A serialisable model description: the per-sample input shape and the layers (graph nodes).
/// A model can be rebuilt from this JSON alone (plus a seed for fresh weights).
///
/// Version 1 is a chain of layers; version 2 is a graph whose nodes may name their inputs
/// (`protocols/model-description.md`). Version 1 files still load.
public struct ModelSpec: Codable, Equatable, Sendable {
    /// Format tag, always `cohort.model`.
    public var format = "cohort.model"
    /// Version of this description format: 1 for a chain of version 1 kinds, else 2.
    public var version = 1
    /// The newest version this build reads.
    public static let newestVersion = 2
    /// Per-sample input shape: `[features]` for tabular data, `[height, width, channels]` for images.
    public var inputShape: [Int]
    /// The layers (graph nodes).
    public var layers: [LayerSpec]
    /// Low-rank adaptation of some of the layers' weights (version 2), or nil.
    public var lora: LoRASpec?

    /// A description of a model taking `inputShape` through `layers`.
    public init(inputShape: [Int], layers: [LayerSpec], lora: LoRASpec? = nil) {
        self.inputShape = inputShape
        self.layers = layers
        self.lora = lora
        version = lora == nil ? ModelSpec.inferredVersion(layers) : 2
    }

    /// 1 when every node is a version 1 kind reading the node before it, else 2.
    static func inferredVersion(_ layers: [LayerSpec]) -> Int {
        layers.allSatisfy { $0.sources == nil && $0.kind.isVersion1 } ? 1 : 2
    }

    private enum CodingKeys: String, CodingKey { case format, version, inputShape, layers, lora }

    /// Decodes a description; `format` and `version` may be omitted in hand-written files.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decodeIfPresent(String.self, forKey: .format) ?? "cohort.model"
        inputShape = try c.decode([Int].self, forKey: .inputShape)
        layers = try c.decode([LayerSpec].self, forKey: .layers)
        lora = try c.decodeIfPresent(LoRASpec.self, forKey: .lora)
        version = try c.decodeIfPresent(Int.self, forKey: .version) ?? (lora == nil ? ModelSpec.inferredVersion(layers) : 2)
    }

    /// Decodes a description from JSON, with an error naming what is wrong.
    public static func decode(json data: Data) throws -> ModelSpec {
        let spec: ModelSpec
        do {
            spec = try JSONDecoder().decode(ModelSpec.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw ModelSpecError("model description: missing '\(key.stringValue)' at \(Self.path(context.codingPath))")
        } catch let DecodingError.dataCorrupted(context) {
            throw ModelSpecError("model description: \(context.debugDescription) at \(Self.path(context.codingPath))")
        } catch let DecodingError.typeMismatch(_, context) {
            throw ModelSpecError("model description: wrong type at \(Self.path(context.codingPath)): \(context.debugDescription)")
        } catch {
            throw ModelSpecError("model description: \(error)")
        }
        guard spec.format == "cohort.model" else { throw ModelSpecError("model description: format is '\(spec.format)', expected 'cohort.model'") }
        guard spec.version >= 1 && spec.version <= newestVersion else {
            throw ModelSpecError("model description: version \(spec.version) is not one this cohort understands (1...\(newestVersion))")
        }
        if spec.version == 1 && spec.lora != nil { throw ModelSpecError("model description: version 1 has no 'lora'; set \"version\": 2") }
        if spec.version == 1, let node = spec.layers.first(where: { $0.sources != nil || !$0.kind.isVersion1 }) {
            throw ModelSpecError("model description: version 1 has no '\(node.kind.rawValue)' nodes or named inputs (node '\(node.name)'); set \"version\": 2")
        }
        return spec
    }

    /// The description as pretty, key-sorted JSON.
    public func encodedJSON() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try! encoder.encode(self)
    }

    private static func path(_ keys: [CodingKey]) -> String {
        keys.isEmpty ? "top level" : keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
    }
}
