import Foundation

/// What kind of synthetic data a cohort holds.
public enum CohortKind: String, Codable, Sendable, CaseIterable {
    /// 1×32×32 grayscale scans, 3 classes (normal, benign lesion, malignant lesion); `.ctf` files.
    case imaging
    /// 10 clinical features, binary outcome (no event, event); `.csv` files.
    case tabular
}

/// How big a synthetic cohort is.
public enum CohortPreset: String, Codable, Sendable, CaseIterable {
    /// Source 6000 train + 1000 validation; hospitals 60, 150, 400, 900, 2000 train + 400 test each.
    case standard = "default"
    /// For CI: source 1500 + 300; hospitals 40, 80, 150, 220, 300 train + 150 test each.
    case quick
}

/// A site's part in the cohort.
public enum SiteRole: String, Codable, Sendable {
    /// The public, fully labelled dataset a model is pre-trained on (reference scanner/assays).
    case source
    /// A private site the model is adapted to; has a held-out labelled test set.
    case hospital
}

/// The settings of a synthetic multi-site cohort. Everything generated is a function of these.
public struct SyntheticCohortConfig: Sendable, Equatable {
    /// Imaging or tabular.
    public var kind: CohortKind
    /// Number of hospitals (the source comes on top).
    public var hospitals: Int
    /// Seed of every random choice.
    public var seed: UInt64
    /// Sizes.
    public var preset: CohortPreset
    /// Fraction of training samples that keep their label at the sparse-label hospital.
    public var sparseLabelFraction: Double

    /// A configuration; `hospitals` must be in 1…64.
    public init(kind: CohortKind = .imaging, hospitals: Int = 5, seed: UInt64 = 0, preset: CohortPreset = .standard,
                sparseLabelFraction: Double = 0.05) {
        precondition((1...64).contains(hospitals), "hospital count must be in 1…64, got \(hospitals)")
        precondition(sparseLabelFraction > 0 && sparseLabelFraction <= 1, "sparse label fraction must be in (0, 1], got \(sparseLabelFraction)")
        self.kind = kind; self.hospitals = hospitals; self.seed = seed; self.preset = preset
        self.sparseLabelFraction = sparseLabelFraction
    }
}

/// How many samples of which kind one site gets, before any data is drawn.
public struct SyntheticSitePlan: Codable, Sendable, Equatable {
    /// `source` or `hospital-1` … `hospital-N` (hospitals ordered by training size, ascending).
    public var name: String
    /// Source or hospital.
    public var role: SiteRole
    /// Index of the site's profile (scanner or population archetype, 0…4); −1 for the source.
    public var profile: Int
    /// Training samples (labelled and unlabelled).
    public var trainCount: Int
    /// Fraction of the training samples that carry a label (1 except at the sparse-label hospital).
    public var labelledFraction: Double
    /// Labelled validation samples (source only; hospitals split their own).
    public var validationCount: Int
    /// Labelled held-out test samples (hospitals only).
    public var testCount: Int
    /// Configured class prevalence of the site's population, one entry per class, summing to 1.
    public var prevalence: [Double]

    /// Labelled training samples: `round(trainCount × labelledFraction)`, at least 1.
    public var labelledCount: Int {
        labelledFraction >= 1 ? trainCount : max(1, Int((Double(trainCount) * labelledFraction).rounded()))
    }

    /// The sites of a cohort, source first, then hospitals by ascending training size.
    ///
    /// Sizes: 5 hospitals get the preset's table; another count N gets sizes spaced
    /// geometrically between the table's smallest and largest, rounded to 10. Profiles cycle
    /// through five archetypes (close to the source, old low-resolution, moderate, strongly
    /// shifted referral centre, mild), so hospital i has profile (i−1) mod 5. With N ≥ 3 the
    /// second-largest hospital keeps labels for only `sparseLabelFraction` of its training samples.
    public static func plans(for config: SyntheticCohortConfig) -> [SyntheticSitePlan] {
        let table: [Int], source: (train: Int, validation: Int), test: Int
        switch config.preset {
        case .standard: table = [60, 150, 400, 900, 2000]; source = (6000, 1000); test = 400
        case .quick: table = [40, 80, 150, 220, 300]; source = (1500, 300); test = 150
        }
        let n = config.hospitals
        let sizes: [Int]
        if n == table.count {
            sizes = table
        } else if n == 1 {
            sizes = [table[2]]
        } else {
            let lo = Double(table.first!), hi = Double(table.last!)
            sizes = (0..<n).map { i in
                let v = lo * Foundation.pow(hi / lo, Double(i) / Double(n - 1))
                return max(20, Int((v / 10).rounded()) * 10)
            }
        }
        let sparse = n >= 3 ? n - 2 : -1
        let prevalence = config.kind == .imaging ? SyntheticImagingCohort.sourcePrevalence : SyntheticTabularCohort.sourcePrevalence
        var plans = [SyntheticSitePlan(name: "source", role: .source, profile: -1, trainCount: source.train, labelledFraction: 1,
                                       validationCount: source.validation, testCount: 0, prevalence: prevalence)]
        for i in 0..<n {
            let profile = i % 5
            let p = config.kind == .imaging
                ? SyntheticImagingCohort.hospitalPrevalence(profile: profile, hospital: i, seed: config.seed)
                : SyntheticTabularCohort.hospitalPrevalence(profile: profile, hospital: i, seed: config.seed)
            plans.append(SyntheticSitePlan(name: "hospital-\(i + 1)", role: .hospital, profile: profile, trainCount: sizes[i],
                                           labelledFraction: i == sparse ? config.sparseLabelFraction : 1,
                                           validationCount: 0, testCount: test, prevalence: p))
        }
        return plans
    }
}
