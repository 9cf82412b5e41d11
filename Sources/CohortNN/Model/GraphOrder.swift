/// Resolves a model description's wiring: node names to indices, an order in which every node
/// comes after its inputs, and the checks that make it a graph with one output (no dangling
/// names, no cycles, no node whose output nobody reads).
enum GraphOrder {
    /// The name that stands for the model input in `inputs`.
    static let inputName = "input"

    /// Longest node name accepted.
    static let maxNameLength = 256

    /// Orders `specs` (appended after `existing` nodes) so inputs come first, keeping the file
    /// order where it already is; returns each node with its source indices (-1: model input).
    static func resolve(_ specs: [LayerSpec], existing: [String]) throws -> [(spec: LayerSpec, sources: [Int])] {
        var index: [String: Int] = [:]
        for (i, name) in existing.enumerated() { index[name] = i }
        // Names first, so errors name the node.
        var seen = Set(existing)
        for (i, spec) in specs.enumerated() {
            guard !spec.name.isEmpty else { throw ModelSpecError("layer \(existing.count + i) (\(spec.kind.rawValue)) has an empty name") }
            guard spec.name.utf8.count <= maxNameLength, spec.name.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
                throw ModelSpecError("layer \(existing.count + i) (\(spec.kind.rawValue)): the name must be 1...\(maxNameLength) bytes without control characters")
            }
            guard spec.name != inputName else { throw ModelSpecError.layer(spec, "'\(inputName)' is reserved for the model input") }
            guard seen.insert(spec.name).inserted else { throw ModelSpecError.layer(spec, "name is used twice") }
        }
        // Named inputs; a node without them reads the node listed before it.
        var sourceNames: [[String]] = []
        for (i, spec) in specs.enumerated() {
            if let names = spec.sources {
                guard !names.isEmpty else { throw ModelSpecError.layer(spec, "'inputs' is empty") }
                guard names.count <= 1024 else { throw ModelSpecError.layer(spec, "reads \(names.count) inputs, more than 1024") }
                for n in names where n != inputName && !seen.contains(n) {
                    throw ModelSpecError.layer(spec, "reads '\(n)', which no node defines")
                }
                if names.contains(spec.name) { throw ModelSpecError.layer(spec, "reads itself (a cycle)") }
                sourceNames.append(names)
            } else {
                sourceNames.append([i > 0 ? specs[i - 1].name : (existing.last ?? inputName)])
            }
        }
        // Kahn's algorithm, taking the earliest ready node in file order each time.
        let local = Dictionary(uniqueKeysWithValues: specs.enumerated().map { ($0.element.name, $0.offset) })
        var pending = sourceNames.map { names in Set(names.compactMap { local[$0] }).count }
        var readers = [[Int]](repeating: [], count: specs.count)
        for (i, names) in sourceNames.enumerated() { for j in Set(names.compactMap({ local[$0] })) { readers[j].append(i) } }
        var ready = Set(pending.indices.filter { pending[$0] == 0 })
        var order: [Int] = []
        while let next = ready.min() {
            ready.remove(next)
            order.append(next)
            index[specs[next].name] = existing.count + order.count - 1
            for r in readers[next] {
                pending[r] -= 1
                if pending[r] == 0 { ready.insert(r) }
            }
        }
        guard order.count == specs.count else {
            let stuck = specs.indices.filter { pending[$0] > 0 }.map { specs[$0].name }
            throw ModelSpecError("model description: the graph has a cycle through \(stuck.prefix(8).map { "'\($0)'" }.joined(separator: ", "))")
        }
        let result = order.map { i in (spec: specs[i], sources: sourceNames[i].map { $0 == inputName ? -1 : index[$0]! }) }
        // One output: every node but the last is read by some node.
        var read = Set<Int>()
        for r in result { for s in r.sources { read.insert(s) } }
        let total = existing.count + result.count
        for (k, r) in result.enumerated() where existing.count + k < total - 1 && !read.contains(existing.count + k) {
            throw ModelSpecError.layer(r.spec, "no node reads its output (only the last node is the model's output)")
        }
        return result
    }
}
