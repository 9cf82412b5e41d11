extension Sequential {
    /// An independent model with the same architecture, weights, running statistics and
    /// trainable flags (nothing is shared with `self`).
    public func copy() throws -> Sequential {
        let twin = try Sequential(spec: spec, seed: 0)
        try twin.load(Dictionary(stateDict().map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a }))
        for (mine, theirs) in zip(parameters, twin.parameters) { theirs.isTrainable = mine.isTrainable }
        return twin
    }
}
