/// Gradual unfreezing (Howard & Ruder 2018): start with only the head trainable and unfreeze
/// one more block, from the top down, every `epochsPerBlock` epochs.
public struct GradualUnfreezing: Sendable {
    /// Name prefixes of the blocks, from the top (nearest the output) down.
    public var blocks: [String]
    public var epochsPerBlock: Int

    /// A schedule over `blocks` (top first). Block 0 is trainable from epoch 0.
    public init(blocks: [String], epochsPerBlock: Int) {
        precondition(!blocks.isEmpty && epochsPerBlock > 0, "gradual unfreezing needs blocks and epochsPerBlock > 0")
        self.blocks = blocks
        self.epochsPerBlock = epochsPerBlock
    }

    /// The parameterised layers of `model`, top first: the default block order.
    public static func layerBlocks(of model: Sequential) -> [String] {
        model.layers.filter { !$0.parameters.isEmpty }.map(\.name).reversed()
    }

    /// How many blocks are trainable at `epoch`.
    public func unfrozenCount(at epoch: Int) -> Int { min(blocks.count, 1 + epoch / epochsPerBlock) }

    /// Freezes every parameter, then unfreezes the blocks due at `epoch`.
    public func apply(to model: Sequential, epoch: Int) {
        for p in model.parameters { p.isTrainable = false }
        for prefix in blocks.prefix(unfrozenCount(at: epoch)) { model.setTrainable(true, prefix: prefix) }
    }
}
