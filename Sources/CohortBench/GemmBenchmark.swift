import CohortTensor

/// `cohort bench gemm`: GFLOP/s of the GEMM kernel for 1024³ and the shapes training uses,
/// on 1 and 2 threads.
public enum GemmBenchmark {
    /// One measured shape.
    public struct Case: Codable, Sendable {
        public var name: String
        public var m: Int, n: Int, k: Int
        public var transA: Bool, transB: Bool
        public var threads: Int
        public var gflops: BenchTiming.Summary
    }

    /// The benchmark's whole result.
    public struct Report: Codable, Sendable {
        public var bench = "gemm"
        public var secondsPerRepeat: Double
        public var cases: [Case]
    }

    /// The shapes measured: (name, m, n, k, transA, transB).
    public static let shapes: [(String, Int, Int, Int, Bool, Bool)] = [
        ("square_1024", 1024, 1024, 1024, false, false),
        ("mlp_fwd_64x784x256", 64, 256, 784, false, false),
        ("mlp_fwd_64x256x128", 64, 128, 256, false, false),
        ("mlp_wgrad_784x64x256_AtB", 784, 256, 64, true, false),
        ("mlp_dx_64x256x784_ABt", 64, 784, 256, false, true),
        ("conv2_fwd_12544x32x144_ABt", 12544, 32, 144, false, true),
        ("tiny_16x32x13", 16, 32, 13, false, false),
        // bench large-model's wide layer (1000 → U, batch 32) at U = 65,536 (the 300M model has
        // U = 296,735): forward x·Wᵀ, and the weight gradient dYᵀ·x, whose k is the batch.
        ("wide_fwd_32x1000x65536_ABt", 32, 65536, 1000, false, true),
        ("wide_wgrad_65536x32x1000_AtB", 65536, 1000, 32, true, false),
    ] + resnet18Shapes + vitTinyShapes

    /// ResNet-18 at 3×64×64, batch 32, as the im2col convolution lowers it: forward
    /// `cols·Wᵀ` (m = positions, n = out channels, k = patch), weight gradient `dYᵀ·cols`
    /// and input gradient `dY·W`.
    public static let resnet18Shapes: [(String, Int, Int, Int, Bool, Bool)] = [
        ("r18_stem_fwd_32768x64x147_ABt", 32768, 64, 147, false, true),
        ("r18_stem_dw_64x147x32768_AtB", 64, 147, 32768, true, false),
        ("r18_l1_fwd_8192x64x576_ABt", 8192, 64, 576, false, true),
        ("r18_l1_dw_64x576x8192_AtB", 64, 576, 8192, true, false),
        ("r18_l1_dx_8192x576x64_AB", 8192, 576, 64, false, false),
        ("r18_l2_fwd_2048x128x1152_ABt", 2048, 128, 1152, false, true),
        ("r18_l2_dw_128x1152x2048_AtB", 128, 1152, 2048, true, false),
        ("r18_l2_dx_2048x1152x128_AB", 2048, 1152, 128, false, false),
        ("r18_l2ds_fwd_2048x128x64_ABt", 2048, 128, 64, false, true),
        ("r18_l3_fwd_512x256x2304_ABt", 512, 256, 2304, false, true),
        ("r18_l3_dw_256x2304x512_AtB", 256, 2304, 512, true, false),
        ("r18_l3_dx_512x2304x256_AB", 512, 2304, 256, false, false),
        ("r18_l4_fwd_128x512x4608_ABt", 128, 512, 4608, false, true),
        ("r18_l4_dw_512x4608x128_AtB", 512, 4608, 128, true, false),
        ("r18_l4_dx_128x4608x512_AB", 128, 4608, 512, false, false),
    ]

    /// ViT-Tiny at 3×64×64, batch 32 (65 tokens, width 192, 3 heads of 64, MLP 768): the
    /// linear layers on 2080 token rows (forward `X·Wᵀ`, `dYᵀ·X`, `dY·W`) and one
    /// (sample, head) pair's attention products.
    public static let vitTinyShapes: [(String, Int, Int, Int, Bool, Bool)] = [
        ("vit_patch_fwd_2048x192x192_ABt", 2048, 192, 192, false, true),
        ("vit_qkv_fwd_2080x576x192_ABt", 2080, 576, 192, false, true),
        ("vit_qkv_dw_576x192x2080_AtB", 576, 192, 2080, true, false),
        ("vit_qkv_dx_2080x192x576_AB", 2080, 192, 576, false, false),
        ("vit_proj_fwd_2080x192x192_ABt", 2080, 192, 192, false, true),
        ("vit_fc1_fwd_2080x768x192_ABt", 2080, 768, 192, false, true),
        ("vit_fc1_dw_768x192x2080_AtB", 768, 192, 2080, true, false),
        ("vit_fc1_dx_2080x192x768_AB", 2080, 192, 768, false, false),
        ("vit_fc2_fwd_2080x192x768_ABt", 2080, 192, 768, false, true),
        ("vit_fc2_dw_192x768x2080_AtB", 192, 768, 2080, true, false),
        ("vit_fc2_dx_2080x768x192_AB", 2080, 768, 192, false, false),
        ("vit_attn_qk_65x65x64_ABt", 65, 65, 64, false, true),
        ("vit_attn_sv_65x64x65_AB", 65, 64, 65, false, false),
        ("vit_attn_dv_65x64x65_AtB", 65, 64, 65, true, false),
    ]

    /// Runs every shape whose name starts with one of `prefixes` (all shapes when empty) on
    /// each thread count; `progress` receives one line per case.
    public static func run(threads: [Int], seconds: Double, repeats: Int, prefixes: [String] = [],
                           progress: (String) -> Void = { _ in }) -> Report {
        var cases: [Case] = []
        for (name, m, n, k, ta, tb) in shapes where prefixes.isEmpty || prefixes.contains(where: { name.hasPrefix($0) }) {
            var rng = SeededRandom(seed: 1)
            let a = (0..<(m * k)).map { _ in rng.normal() }
            let b = (0..<(k * n)).map { _ in rng.normal() }
            var c = [Float](repeating: 0, count: m * n)
            for t in threads {
                let flops = 2.0 * Double(m * n * k)
                let once = {
                    Gemm.multiply(transA: ta, transB: tb, m: m, n: n, k: k, a: a, lda: ta ? m : k,
                                  b: b, ldb: tb ? k : n, c: &c, ldc: n, threads: t)
                }
                _ = BenchTiming.rate(seconds: min(seconds, 0.3), once)
                let rates = (0..<repeats).map { _ in BenchTiming.rate(seconds: seconds, once) * flops / 1e9 }
                let summary = BenchTiming.Summary(rates)
                progress("gemm \(name) threads=\(t): \(String(format: "%.1f", summary.median)) GFLOP/s")
                cases.append(Case(name: name, m: m, n: n, k: k, transA: ta, transB: tb, threads: t, gflops: summary))
            }
        }
        return Report(secondsPerRepeat: seconds, cases: cases)
    }
}
