extension Sequential {
    /// An independent model with the same architecture, weights, running statistics and
    /// trainable flags (nothing is shared with `self`).
    public func copy() throws -> Sequential {
        // No random draws, no pages touched: the strict load below replaces every tensor
        // (and throws, discarding the twin, if one is missing).
        let twin = try Sequential(spec: spec, seed: 0, initialization: .unfilled)
        try twin.load(Dictionary(stateDict().map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a }))
        for (mine, theirs) in zip(parameters, twin.parameters) { theirs.isTrainable = mine.isTrainable }
        return twin
    }
}
