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
    ]

    /// Runs every shape on each thread count; `progress` receives one line per case.
    public static func run(threads: [Int], seconds: Double, repeats: Int,
                           progress: (String) -> Void = { _ in }) -> Report {
        var cases: [Case] = []
        for (name, m, n, k, ta, tb) in shapes {
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
