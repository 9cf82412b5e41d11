/// The size knobs of a preset without its task (classes, input): what `--preset-options`
/// and a simulation config's `presetOptions` hold. Every knob is optional; unknown keys are
/// refused when decoding.
public struct PresetKnobs: Codable, Equatable, Sendable {
    public var width, growth, lastChannel, patchSize, embedDim, depth, heads, mlpRatio: Int?
    public var widthMultiplier: Double?
    public var attentionLayout: String?

    /// The knob names, for error messages.
    public static let names = "width, growth, widthMultiplier, lastChannel, patchSize, embedDim, depth, heads, mlpRatio, attentionLayout"

    /// No knob set (every preset at its published size).
    public init() {}

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case width, growth, lastChannel, patchSize, embedDim, depth, heads, mlpRatio, widthMultiplier, attentionLayout
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Decodes the knobs; a key that is not a knob is an error naming it.
    public init(from decoder: Decoder) throws {
        let all = try decoder.container(keyedBy: AnyKey.self)
        if let unknown = all.allKeys.first(where: { CodingKeys(rawValue: $0.stringValue) == nil }) {
            throw DecodingError.dataCorruptedError(forKey: unknown, in: all, debugDescription: "unknown knob '\(unknown.stringValue)'")
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        width = try c.decodeIfPresent(Int.self, forKey: .width)
        growth = try c.decodeIfPresent(Int.self, forKey: .growth)
        lastChannel = try c.decodeIfPresent(Int.self, forKey: .lastChannel)
        patchSize = try c.decodeIfPresent(Int.self, forKey: .patchSize)
        embedDim = try c.decodeIfPresent(Int.self, forKey: .embedDim)
        depth = try c.decodeIfPresent(Int.self, forKey: .depth)
        heads = try c.decodeIfPresent(Int.self, forKey: .heads)
        mlpRatio = try c.decodeIfPresent(Int.self, forKey: .mlpRatio)
        widthMultiplier = try c.decodeIfPresent(Double.self, forKey: .widthMultiplier)
        attentionLayout = try c.decodeIfPresent(String.self, forKey: .attentionLayout)
    }

    /// Sets every knob given here in `o`.
    public func apply(to o: inout PresetOptions) {
        o.width = width ?? o.width; o.growth = growth ?? o.growth; o.lastChannel = lastChannel ?? o.lastChannel
        o.patchSize = patchSize ?? o.patchSize; o.embedDim = embedDim ?? o.embedDim; o.depth = depth ?? o.depth
        o.heads = heads ?? o.heads; o.mlpRatio = mlpRatio ?? o.mlpRatio
        o.widthMultiplier = widthMultiplier ?? o.widthMultiplier; o.attentionLayout = attentionLayout ?? o.attentionLayout
    }

    /// The knobs set, as compact JSON-like text for logs and cache keys (`{"width":16}`).
    public var summary: String {
        var parts: [String] = []
        func add(_ k: String, _ v: Any?) { if let v { parts.append("\"\(k)\":\(v is String ? "\"\(v)\"" : "\(v)")") } }
        add("width", width); add("growth", growth); add("widthMultiplier", widthMultiplier); add("lastChannel", lastChannel)
        add("patchSize", patchSize); add("embedDim", embedDim); add("depth", depth); add("heads", heads); add("mlpRatio", mlpRatio)
        add("attentionLayout", attentionLayout)
        return "{" + parts.joined(separator: ",") + "}"
    }
}
