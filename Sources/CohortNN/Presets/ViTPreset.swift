/// timm's VisionTransformer: patch embedding, class token, learned positions, pre-norm blocks
/// (LayerNorm ε = 1e-6, exact GELU), the class token's features into the head.
enum ViTPreset {
    static func nodes(patch: Int, dim: Int, depth: Int, heads: Int, mlpRatio: Int, layout: String, classes: Int) -> [LayerSpec] {
        var g = GraphBuilder()
        let eps: Float = 1e-6
        g.add(LayerSpec(.conv2d, name: "patch_embed.proj", units: dim, kernel: patch, stride: patch))
        g.add(LayerSpec(.reshape, name: "patch_embed.tokens", shape: [-1, dim]))
        g.add(LayerSpec(.clstoken, name: "cls_token"))
        g.add(LayerSpec(.posembed, name: "pos_embed"))
        for i in 0..<depth {
            let b = "blocks.\(i)"
            let input = g.last
            g.add(LayerSpec(.layernorm, name: "\(b).norm1", epsilon: eps))
            g.add(LayerSpec(.attention, name: "\(b).attn", heads: heads, layout: layout))
            let mid = g.add(LayerSpec(.add, name: "\(b).add1"), inputs: [input, g.last])
            g.add(LayerSpec(.layernorm, name: "\(b).norm2", epsilon: eps))
            g.add(LayerSpec(.linear, name: "\(b).mlp.fc1", units: dim * mlpRatio))
            g.add(LayerSpec(.gelu, name: "\(b).mlp.act"))
            g.add(LayerSpec(.linear, name: "\(b).mlp.fc2", units: dim))
            g.add(LayerSpec(.add, name: "\(b).add2"), inputs: [mid, g.last])
        }
        g.add(LayerSpec(.layernorm, name: "norm", epsilon: eps))
        g.add(LayerSpec(.selecttoken, name: "pool", index: 0))
        g.add(LayerSpec(.dense, name: "head", units: classes))
        return g.nodes
    }
}
