import CohortNN
import CohortTensor
import Foundation

/// The synthetic imaging cohort: 1×32×32 grayscale scans of three classes (0 normal,
/// 1 benign lesion, 2 malignant lesion, see `SyntheticImagingPhantom`), acquired at each site
/// through its own `SyntheticImagingScanner`, with its own class prevalence and size.
///
/// Deterministic: every scan is drawn from a generator derived from (seed, site, part, index),
/// so the output does not depend on thread count or on which other sites are generated.
public enum SyntheticImagingCohort {
    /// Class names by label.
    public static let classNames = ["normal", "benign", "malignant"]
    /// Shape of one scan: `[channels, height, width]`.
    public static let sampleShape = [1, SyntheticImagingPhantom.side, SyntheticImagingPhantom.side]
    /// The source's class prevalence (balanced-ish public dataset).
    public static let sourcePrevalence: [Double] = [0.40, 0.30, 0.30]
    /// Class prevalence of the five hospital profiles: screening centre (mostly normal),
    /// district hospital, general hospital, oncology referral centre (mostly malignant), academic centre.
    public static let profilePrevalence: [[Double]] = [
        [0.70, 0.20, 0.10], [0.55, 0.25, 0.20], [0.45, 0.30, 0.25], [0.25, 0.30, 0.45], [0.50, 0.30, 0.20],
    ]

    /// The prevalence of hospital `hospital` (0-based): the profile's for the first five,
    /// a seeded variation for later ones.
    public static func hospitalPrevalence(profile: Int, hospital: Int, seed: UInt64) -> [Double] {
        jitteredPrevalence(profilePrevalence[profile % profilePrevalence.count], hospital: hospital, seed: seed)
    }

    static func jitteredPrevalence(_ p: [Double], hospital: Int, seed: UInt64) -> [Double] {
        guard hospital >= 5 else { return p }
        var rng = SeededRandom(seed: seed).derived(stream: 0x9EE0_0000 + UInt64(hospital))
        let q = p.map { $0 * Double(expf(0.25 * rng.normal())) }
        let sum = q.reduce(0, +)
        return q.map { ($0 / sum * 1000).rounded() / 1000 }
    }

    /// The scanner of a planned site.
    public static func scanner(for plan: SyntheticSitePlan, hospital: Int, seed: UInt64) -> SyntheticImagingScanner {
        plan.role == .source ? .reference : SyntheticImagingScanner.hospital(profile: plan.profile, hospital: hospital, seed: seed)
    }

    /// Generates every site of the cohort.
    public static func generate(_ config: SyntheticCohortConfig) -> GeneratedCohort {
        precondition(config.kind == .imaging, "SyntheticImagingCohort generates imaging cohorts")
        let plans = SyntheticSitePlan.plans(for: config)
        let sites = plans.enumerated().map { index, plan in generateSite(plan, index: index, seed: config.seed) }
        return GeneratedCohort(config: config, classes: 3, classNames: classNames, sampleShape: sampleShape, featureNames: nil, sites: sites)
    }

    /// Generates one site; `index` is its position in the plan list (0 = source).
    public static func generateSite(_ plan: SyntheticSitePlan, index: Int, seed: UInt64) -> GeneratedSite {
        let scanner = scanner(for: plan, hospital: index - 1, seed: seed)
        let siteRNG = SeededRandom(seed: seed).derived(stream: UInt64(index) &+ 1)
        let train = part(plan: plan, count: plan.trainCount, labelled: plan.labelledCount, scanner: scanner, rng: siteRNG.derived(stream: 1))
        let validation = plan.validationCount > 0
            ? part(plan: plan, count: plan.validationCount, labelled: plan.validationCount, scanner: scanner, rng: siteRNG.derived(stream: 2)) : nil
        let test = plan.testCount > 0
            ? part(plan: plan, count: plan.testCount, labelled: plan.testCount, scanner: scanner, rng: siteRNG.derived(stream: 3)) : nil
        return GeneratedSite(plan: plan, parameters: scanner.parameters, train: train, validation: validation, test: test)
    }

    /// `count` scans with labels drawn from the plan's prevalence; `labelled` of them (a seeded
    /// random subset, independent of the class) keep their label.
    static func part(plan: SyntheticSitePlan, count: Int, labelled: Int, scanner: SyntheticImagingScanner, rng: SeededRandom) -> SiteData {
        var rng = rng
        let labels = (0..<count).map { _ in categorical(plan.prevalence, &rng) }
        let pixels = scans(labels: labels, scanner: scanner, rng: rng.derived(stream: 0xA11))
        let f = sampleShape.reduce(1, *)
        let all = Tensor(shape: [count, f], data: pixels)
        let data: LabelledData, unlabelled: Tensor
        if labelled >= count {
            data = LabelledData(inputs: all, labels: labels)
            unlabelled = Tensor(shape: [0, f])
        } else {
            let order = rng.permutation(count)
            let keep = order[..<labelled].sorted(), drop = order[labelled...].sorted()
            data = LabelledData(inputs: all.gatherRows(keep), labels: keep.map { labels[$0] })
            unlabelled = all.gatherRows(drop)
        }
        return SiteData(labelled: data, unlabelled: unlabelled, sampleShape: sampleShape, classes: 3, classNames: classNames)
    }

    /// Renders one scan per label through `scanner`, `[labels.count × 1024]` floats; scan `i`
    /// uses the generator `rng.derived(stream: i)`. Runs on the shared worker pool.
    public static func scans(labels: [Int], scanner: SyntheticImagingScanner, rng: SeededRandom) -> [Float] {
        let side = SyntheticImagingPhantom.side, f = side * side
        var out = [Float](repeating: 0, count: labels.count * f)
        guard !labels.isEmpty else { return out }
        let chunk = 64
        let tasks = (labels.count + chunk - 1) / chunk
        out.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            WorkerPool.shared.run(tasks: tasks) { t in
                let workspace = SyntheticImagingScanner.Workspace(scanner: scanner, size: side)
                var noise = [Float](repeating: 0, count: f)
                noise.withUnsafeMutableBufferPointer { noiseBuffer in
                    for i in (t * chunk)..<min((t + 1) * chunk, labels.count) {
                        var r = rng.derived(stream: UInt64(i))
                        let image = base + i * f
                        SyntheticImagingPhantom.render(label: labels[i], rng: &r, into: image, noise: noiseBuffer.baseAddress!)
                        scanner.acquire(image, rng: &r, workspace: workspace)
                    }
                }
            }
        }
        return out
    }

    /// A draw from the categorical distribution `p`.
    static func categorical(_ p: [Double], _ rng: inout SeededRandom) -> Int {
        let u = Double(rng.uniform())
        var acc = 0.0
        for (k, pk) in p.enumerated() {
            acc += pk
            if u < acc { return k }
        }
        return p.count - 1
    }
}
