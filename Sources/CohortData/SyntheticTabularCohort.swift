import CohortNN
import CohortTensor
import Foundation

/// The synthetic tabular cohort: 10 clinical features and a binary outcome (0 = no event,
/// 1 = cardiovascular event within 5 years) from a hidden risk model.
///
/// Patients: age, sex, BMI, systolic blood pressure and heart rate depend on age/sex/BMI;
/// diabetes (hidden) raises HbA1c and glucose; creatinine rises with age and male sex;
/// LDL and CRP (log-normal) vary freely. The outcome is Bernoulli with
/// `logit = intercept + 0.055·(age−55) + 0.45·male + 0.018·(sbp−130) + 0.35·(hba1c−5.6)
///  + 0.008·(creatinine−80) + 0.4·(ldl−3.2) + 0.3·ln(crp) + 0.015·(hr−72) + 0.02·(bmi−27)
///  + 0.6·smoker + N(0, 0.3²)`, where smoking (25 %) and the last term are unobserved, so the
/// outcome is predictable but far from certain. Each site's intercept is set (by bisection on
/// a 4000-patient pilot sample of its population) so that its event rate equals the configured
/// prevalence: the baseline risk differs between sites, the effects of the features do not.
/// Features are computed from true values; the site's `SyntheticTabularProfile` then shifts
/// the lab columns (assay calibration, units, noise) before anything is stored.
public enum SyntheticTabularCohort {
    /// Feature column names, in order.
    public static let featureNames = ["age", "sex", "bmi", "systolic_bp", "heart_rate", "glucose", "hba1c", "creatinine", "ldl", "crp"]
    /// Class names by label.
    public static let classNames = ["no_event", "event"]
    /// The source's prevalence `[no event, event]`.
    public static let sourcePrevalence: [Double] = [0.70, 0.30]
    /// Event rate of the five hospital profiles.
    public static let profileEventRate: [Double] = [0.15, 0.25, 0.30, 0.45, 0.20]

    /// The prevalence `[no event, event]` of hospital `hospital` (0-based).
    public static func hospitalPrevalence(profile: Int, hospital: Int, seed: UInt64) -> [Double] {
        let rate = profileEventRate[profile % profileEventRate.count]
        return SyntheticImagingCohort.jitteredPrevalence([1 - rate, rate], hospital: hospital, seed: seed)
    }

    /// The population and calibration of a planned site.
    public static func profile(for plan: SyntheticSitePlan, hospital: Int, seed: UInt64) -> SyntheticTabularProfile {
        plan.role == .source ? .reference : SyntheticTabularProfile.hospital(profile: plan.profile, hospital: hospital, seed: seed)
    }

    /// Generates every site of the cohort.
    public static func generate(_ config: SyntheticCohortConfig) -> GeneratedCohort {
        precondition(config.kind == .tabular, "SyntheticTabularCohort generates tabular cohorts")
        let plans = SyntheticSitePlan.plans(for: config)
        let sites = plans.enumerated().map { index, plan in generateSite(plan, index: index, seed: config.seed) }
        return GeneratedCohort(config: config, classes: 2, classNames: classNames, sampleShape: [featureNames.count],
                               featureNames: featureNames, sites: sites)
    }

    /// Generates one site; `index` is its position in the plan list (0 = source).
    public static func generateSite(_ plan: SyntheticSitePlan, index: Int, seed: UInt64) -> GeneratedSite {
        let profile = profile(for: plan, hospital: index - 1, seed: seed)
        let siteRNG = SeededRandom(seed: seed).derived(stream: UInt64(index) &+ 1)
        var pilotRNG = siteRNG.derived(stream: 9)
        let pilot = (0..<4000).map { _ in Patient(profile, &pilotRNG) }
        let intercept = calibrateIntercept(pilot, eventRate: plan.prevalence[1])
        func part(_ count: Int, labelled: Int, stream: UInt64) -> SiteData {
            var rng = siteRNG.derived(stream: stream)
            var values = [Float](), labels = [Int]()
            values.reserveCapacity(count * featureNames.count)
            for _ in 0..<count {
                let p = Patient(profile, &rng)
                let risk = 1 / (1 + Foundation.exp(-(intercept + p.logit)))
                labels.append(Double(rng.uniform()) < risk ? 1 : 0)
                values += p.measured(profile, &rng)
            }
            let all = Tensor(shape: [count, featureNames.count], data: values)
            if labelled >= count {
                return SiteData(labelled: LabelledData(inputs: all, labels: labels), sampleShape: [featureNames.count], classes: 2,
                                featureNames: featureNames, classNames: classNames)
            }
            let order = rng.permutation(count)
            let keep = order[..<labelled].sorted(), drop = order[labelled...].sorted()
            return SiteData(labelled: LabelledData(inputs: all.gatherRows(keep), labels: keep.map { labels[$0] }),
                            unlabelled: all.gatherRows(drop), sampleShape: [featureNames.count], classes: 2,
                            featureNames: featureNames, classNames: classNames)
        }
        let train = part(plan.trainCount, labelled: plan.labelledCount, stream: 1)
        let validation = plan.validationCount > 0 ? part(plan.validationCount, labelled: plan.validationCount, stream: 2) : nil
        let test = plan.testCount > 0 ? part(plan.testCount, labelled: plan.testCount, stream: 3) : nil
        var parameters = profile.parameters
        parameters["intercept"] = (intercept * 1e6).rounded() / 1e6
        return GeneratedSite(plan: plan, parameters: parameters, train: train, validation: validation, test: test)
    }

    /// The intercept making the mean predicted risk over `pilot` equal `eventRate`.
    static func calibrateIntercept(_ pilot: [Patient], eventRate: Double) -> Double {
        var lo = -20.0, hi = 20.0
        for _ in 0..<60 {
            let mid = (lo + hi) / 2
            let mean = pilot.reduce(0.0) { $0 + 1 / (1 + Foundation.exp(-(mid + $1.logit))) } / Double(pilot.count)
            if mean < eventRate { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }

    /// One patient's true values and the part of the risk logit they explain (no intercept).
    struct Patient {
        var age, male, bmi, sbp, hr, glucose, hba1c, creatinine, ldl, crp: Double
        var logit: Double

        init(_ profile: SyntheticTabularProfile, _ rng: inout SeededRandom) {
            func n() -> Double { Double(rng.normal()) }
            age = min(95, max(18, profile.ageMean + profile.ageSD * n()))
            male = Double(rng.uniform()) < profile.maleFraction ? 1 : 0
            bmi = min(60, max(15, 27 + profile.bmiShift + 0.03 * (age - 50) + 4.5 * n()))
            sbp = min(240, max(80, 118 + 0.45 * (age - 50) + 0.9 * (bmi - 27) + 4 * male + 13 * n()))
            hr = min(150, max(40, 72 - 2 * male + 0.3 * (bmi - 27) + 10 * n()))
            let diabetic = -1.8 + 0.04 * (age - 50) + 0.12 * (bmi - 27) + n() > 0
            hba1c = max(4, 5.4 + 0.02 * (age - 50) + 0.03 * (bmi - 27) + (diabetic ? 1.0 + 2.5 * Double(rng.uniform()) : 0) + 0.3 * n())
            glucose = max(2.5, 5.0 + 1.2 * (hba1c - 5.4) + 0.6 * n())
            var cr = 72 + 14 * male + 0.5 * (age - 50) + (diabetic ? 10 + 10 * n() : 0) + 12 * n()
            if rng.uniform() < 0.05 { cr += 50 + 150 * Double(rng.uniform()) }
            creatinine = max(30, cr)
            ldl = max(0.8, 3.2 - 0.15 * male + 0.9 * n())
            crp = Foundation.exp(0.3 + 0.02 * (bmi - 27) + 0.9 * n())
            let smoker: Double = rng.uniform() < 0.25 ? 1 : 0
            logit = 0.055 * (age - 55) + 0.45 * male + 0.018 * (sbp - 130) + 0.35 * (hba1c - 5.6) + 0.008 * (creatinine - 80)
                + 0.4 * (ldl - 3.2) + 0.3 * Foundation.log(crp) + 0.015 * (hr - 72) + 0.02 * (bmi - 27) + 0.6 * smoker + 0.3 * n()
        }

        /// The feature row as the site records it: vitals rounded as charted, lab values through
        /// the site's calibration and noise, rounded to 3 significant digits.
        func measured(_ profile: SyntheticTabularProfile, _ rng: inout SeededRandom) -> [Float] {
            func lab(_ name: String, _ v: Double) -> Float {
                let m = profile.gain[name]! * v + profile.offset[name]! + profile.labNoise * profile.gain[name]! * SyntheticTabularProfile.labSD[name]! * Double(rng.normal())
                return Float(significant(max(m, 0), 3))
            }
            return [Float(age.rounded()), Float(male), Float((bmi * 10).rounded() / 10), Float(sbp.rounded()), Float(hr.rounded()),
                    lab("glucose", glucose), lab("hba1c", hba1c), lab("creatinine", creatinine), lab("ldl", ldl), lab("crp", crp)]
        }
    }

    /// `v` rounded to `digits` significant digits.
    static func significant(_ v: Double, _ digits: Int) -> Double {
        guard v > 0 else { return 0 }
        let scale = Foundation.pow(10, Double(digits) - Foundation.ceil(Foundation.log10(v)))
        return (v * scale).rounded() / scale
    }
}
