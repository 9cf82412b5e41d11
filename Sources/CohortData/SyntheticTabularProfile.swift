import CohortTensor
import Foundation

/// One site's patient population and laboratory calibration for the synthetic tabular cohort.
///
/// The population sets the age and sex mix and a BMI shift; the calibration maps each lab
/// assay's true value to what the site's analyser reports: `gain · true + offset`, plus
/// measurement noise of `labNoise` × the assay's population standard deviation. A gain far
/// from 1 is a unit change (glucose in mg/dL is gain 18.016; creatinine in mg/dL, 0.01131).
public struct SyntheticTabularProfile: Sendable, Equatable {
    /// Mean age in years.
    public var ageMean: Double
    /// Age standard deviation in years.
    public var ageSD: Double
    /// Fraction of male patients.
    public var maleFraction: Double
    /// Added to every patient's BMI.
    public var bmiShift: Double
    /// Per-assay gain, by lab column name.
    public var gain: [String: Double]
    /// Per-assay offset, by lab column name.
    public var offset: [String: Double]
    /// Lab measurement noise, as a fraction of each assay's population standard deviation.
    public var labNoise: Double

    /// The lab columns that calibration applies to.
    public static let labColumns = ["glucose", "hba1c", "creatinine", "ldl", "crp"]
    /// Approximate population standard deviations of the lab columns (true values).
    static let labSD: [String: Double] = ["glucose": 1.3, "hba1c": 0.8, "creatinine": 16, "ldl": 0.9, "crp": 3.0]

    /// A profile; missing gains are 1 and missing offsets 0.
    public init(ageMean: Double, ageSD: Double, maleFraction: Double, bmiShift: Double = 0, gain: [String: Double] = [:],
                offset: [String: Double] = [:], labNoise: Double = 0.05) {
        self.ageMean = ageMean; self.ageSD = ageSD; self.maleFraction = maleFraction; self.bmiShift = bmiShift
        var g = gain, o = offset
        for c in Self.labColumns { g[c] = g[c] ?? 1; o[c] = o[c] ?? 0 }
        self.gain = g; self.offset = o; self.labNoise = labNoise
    }

    /// The source population: reference laboratory, mixed ages.
    public static let reference = SyntheticTabularProfile(ageMean: 57, ageSD: 13, maleFraction: 0.5, labNoise: 0.03)

    /// The five hospital archetypes, in hospital order for the default cohort.
    public static let archetypes: [SyntheticTabularProfile] = [
        // 0: screening centre, younger, same analyser family as the reference (close to the source).
        SyntheticTabularProfile(ageMean: 52, ageSD: 12, maleFraction: 0.45, gain: ["glucose": 1.02, "ldl": 0.98],
                                offset: ["hba1c": 0.05], labNoise: 0.04),
        // 1: district hospital, older, glucose reported in mg/dL, HbA1c biased high, noisy analysers.
        SyntheticTabularProfile(ageMean: 66, ageSD: 11, maleFraction: 0.55, bmiShift: 1.5,
                                gain: ["glucose": 18.016, "creatinine": 1.08, "crp": 0.9], offset: ["hba1c": 0.3, "ldl": 0.15],
                                labNoise: 0.10),
        // 2: general hospital, moderate recalibration.
        SyntheticTabularProfile(ageMean: 58, ageSD: 14, maleFraction: 0.5, gain: ["glucose": 0.95, "creatinine": 1.05, "ldl": 1.05],
                                offset: ["creatinine": -5, "crp": 0.5], labNoise: 0.06),
        // 3: cardiology referral centre: old, mostly male; creatinine in mg/dL, high-sensitivity CRP assay.
        SyntheticTabularProfile(ageMean: 68, ageSD: 9, maleFraction: 0.68, bmiShift: 0.8,
                                gain: ["creatinine": 0.01131, "crp": 1.4, "ldl": 0.9], offset: ["glucose": 0.3], labNoise: 0.08),
        // 4: academic centre, broad ages, mild calibration differences.
        SyntheticTabularProfile(ageMean: 55, ageSD: 15, maleFraction: 0.48, bmiShift: -0.5, gain: ["hba1c": 0.97, "crp": 1.1],
                                offset: ["ldl": -0.1], labNoise: 0.05),
    ]

    /// The profile of hospital `hospital` (0-based): the archetype for the first five hospitals,
    /// a seeded variation of it for later ones.
    public static func hospital(profile: Int, hospital: Int, seed: UInt64) -> SyntheticTabularProfile {
        var p = archetypes[profile % archetypes.count]
        guard hospital >= archetypes.count else { return p }
        var rng = SeededRandom(seed: seed).derived(stream: 0x7AB0_0000 + UInt64(hospital))
        p.ageMean += 4 * Double(rng.normal())
        p.maleFraction = min(0.8, max(0.2, p.maleFraction + 0.08 * Double(rng.normal())))
        p.bmiShift += Double(rng.normal())
        for c in labColumns {
            p.gain[c]! *= Double(expf(0.06 * rng.normal()))
            p.offset[c]! += 0.1 * labSD[c]! * Double(rng.normal())
        }
        return p
    }

    /// The parameters as a flat name → number dictionary (for the cohort manifest); the
    /// intercept of the site's risk model is added by the generator.
    public var parameters: [String: Double] {
        var p: [String: Double] = ["age.mean": ageMean, "age.sd": ageSD, "male.fraction": maleFraction, "bmi.shift": bmiShift,
                                   "lab.noise": labNoise]
        for c in Self.labColumns {
            p["\(c).gain"] = gain[c]!
            p["\(c).offset"] = offset[c]!
        }
        return p.mapValues { ($0 * 1e6).rounded() / 1e6 }
    }
}
