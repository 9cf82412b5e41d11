import CohortNN
import CohortTensor
import Foundation

/// Matching foreign tensor names (a PyTorch `state_dict`) to a Cohort model's names.
public enum StateImport {
    /// PyTorch buffers Cohort does not use; present in source files, ignored without error.
    public static let ignoredSuffixes = [".num_batches_tracked"]

    /// Renames `source` tensors through `mapping` (source name → Cohort name; unmapped names
    /// keep their own) and checks them against `model`. Every missing, mis-shaped or unexpected
    /// tensor is listed in one error. Returns the model's state in the model's order and the
    /// names that were ignored.
    public static func match(_ source: [(name: String, value: Tensor)], to model: Sequential, mapping: [String: String] = [:],
                             path: String) throws -> (state: [(name: String, value: Tensor)], ignored: [String]) {
        try match(source, expecting: model.stateDict().map { ($0.name, $0.value.shape) }, mapping: mapping, path: path)
    }

    /// As `match(_:to:mapping:path:)`, against the model's tensor names and shapes in order.
    public static func match(_ source: [(name: String, value: Tensor)], expecting wanted: [(name: String, shape: [Int])],
                             mapping: [String: String] = [:], path: String) throws -> (state: [(name: String, value: Tensor)], ignored: [String]) {
        var renamed: [String: Tensor] = [:]
        var ignored: [String] = []
        var problems: [String] = []
        for (name, value) in source {
            let target = mapping[name] ?? name
            if mapping[name] == nil && ignoredSuffixes.contains(where: { name.hasSuffix($0) }) { ignored.append(name); continue }
            if renamed[target] != nil { problems.append("two source tensors map to '\(target)'") }
            renamed[target] = value
        }
        var state: [(name: String, value: Tensor)] = []
        for (name, shape) in wanted {
            guard let v = renamed.removeValue(forKey: name) else { problems.append("missing '\(name)' \(shape)"); continue }
            guard v.shape == shape else { problems.append("'\(name)': source shape \(v.shape), model needs \(shape)"); continue }
            guard v.isFinite else { problems.append("'\(name)': contains NaN or infinity"); continue }
            state.append((name, v))
        }
        for name in renamed.keys.sorted() {
            let original = mapping.first { $0.value == name }?.key ?? name
            problems.append("unexpected '\(original)' (no such tensor in the model; map it or remove it)")
        }
        guard problems.isEmpty else { throw CheckpointError.mismatch(path: path, problems: problems) }
        return (state, ignored)
    }

    /// Reads a name map: a JSON object of source name → Cohort name.
    public static func loadMapping(_ path: String) throws -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path) else { throw CheckpointError.io(path: path, reason: "cannot read name map") }
        guard let map = try? JSONDecoder().decode([String: String].self, from: data) else {
            throw CheckpointError.corrupt(path: path, offset: 0, reason: "name map must be a JSON object of strings to strings")
        }
        return map
    }
}
