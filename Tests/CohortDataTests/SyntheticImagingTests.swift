import CohortData
import CohortNN
import CohortTensor
import Foundation
import XCTest

final class SyntheticImagingTests: XCTestCase {
    func testPlansFollowTheRecipe() {
        let plans = SyntheticSitePlan.plans(for: SyntheticCohortConfig())
        XCTAssertEqual(plans.map(\.name), ["source", "hospital-1", "hospital-2", "hospital-3", "hospital-4", "hospital-5"])
        XCTAssertEqual(plans.map(\.trainCount), [6000, 60, 150, 400, 900, 2000])
        XCTAssertEqual(plans[0].validationCount, 1000)
        XCTAssertEqual(plans.dropFirst().map(\.testCount), [400, 400, 400, 400, 400])
        XCTAssertEqual(plans.map(\.labelledCount), [6000, 60, 150, 400, 45, 2000])
        let quick = SyntheticSitePlan.plans(for: SyntheticCohortConfig(preset: .quick))
        XCTAssertEqual(quick.map(\.trainCount), [1500, 40, 80, 150, 220, 300])
        XCTAssertEqual(quick.map(\.labelledCount), [1500, 40, 80, 150, 11, 300])
        XCTAssertEqual(quick[1].testCount, 150)
        // Other counts: ascending sizes between the table's ends, profiles cycling, the
        // second-largest hospital sparse, later hospitals' prevalences still distributions.
        let eight = SyntheticSitePlan.plans(for: SyntheticCohortConfig(hospitals: 8, seed: 3)).dropFirst()
        XCTAssertEqual(eight.first?.trainCount, 60)
        XCTAssertEqual(eight.last?.trainCount, 2000)
        XCTAssertEqual(eight.map(\.trainCount), eight.map(\.trainCount).sorted())
        XCTAssertEqual(eight.map(\.profile), [0, 1, 2, 3, 4, 0, 1, 2])
        XCTAssertEqual(eight.map { $0.labelledFraction < 1 }, [false, false, false, false, false, false, true, false])
        for p in eight { XCTAssertEqual(p.prevalence.reduce(0, +), 1, accuracy: 0.002) }
        XCTAssertNotEqual(eight.map(\.prevalence)[5], eight.map(\.prevalence)[0], "hospital 6 varies its archetype")
        XCTAssertEqual(SyntheticSitePlan.plans(for: SyntheticCohortConfig(hospitals: 2)).filter { $0.labelledFraction < 1 }.count, 0)
        XCTAssertEqual(SyntheticSitePlan.plans(for: SyntheticCohortConfig(hospitals: 1))[1].trainCount, 400)
    }

    func testSameSeedSameBytesDifferentSeedDifferentBytes() {
        let config = SyntheticCohortConfig(kind: .imaging, hospitals: 2, seed: 7, preset: .quick)
        let plans = SyntheticSitePlan.plans(for: config)
        let a = SyntheticImagingCohort.generateSite(plans[2], index: 2, seed: 7)
        let b = SyntheticImagingCohort.generateSite(plans[2], index: 2, seed: 7)
        let c = SyntheticImagingCohort.generateSite(plans[2], index: 2, seed: 8)
        XCTAssertEqual(a.train.labelled.inputs.data.map(\.bitPattern), b.train.labelled.inputs.data.map(\.bitPattern))
        XCTAssertEqual(a.train.labelled.labels, b.train.labelled.labels)
        XCTAssertEqual(a.test!.labelled.inputs, b.test!.labelled.inputs)
        XCTAssertNotEqual(a.train.labelled.inputs, c.train.labelled.inputs)
        XCTAssertNotEqual(a.test!.labelled.inputs, c.test!.labelled.inputs)
        // Train and test are different scans, and every value is finite.
        XCTAssertNotEqual(Array(a.train.labelled.inputs.data[..<1024]), Array(a.test!.labelled.inputs.data[..<1024]))
        XCTAssertTrue(a.train.labelled.inputs.isFinite)
        // A scan depends only on its index: the first four of a batch of five equal a batch of four.
        let rng = SeededRandom(seed: 11)
        let batch = SyntheticImagingCohort.scans(labels: [0, 1, 2, 2, 1], scanner: .archetypes[1], rng: rng)
        let alone = SyntheticImagingCohort.scans(labels: [0, 1, 2, 2], scanner: .archetypes[1], rng: rng)
        XCTAssertEqual(Array(batch[..<(4 * 1024)]), alone)
    }

    func testClassPrevalencePerHospitalMatchesTheConfiguredOne() {
        let config = SyntheticCohortConfig(kind: .imaging, seed: 2)
        let plans = SyntheticSitePlan.plans(for: config)
        // The larger hospitals, train and test pooled (all labelled): within 4 standard errors.
        for index in [3, 5] {
            let site = SyntheticImagingCohort.generateSite(plans[index], index: index, seed: 2)
            var counts = site.train.classCounts
            for (k, c) in site.test!.classCounts.enumerated() { counts[k] += c }
            let n = Double(counts.reduce(0, +))
            for (k, p) in plans[index].prevalence.enumerated() {
                let tolerance = 4 * (p * (1 - p) / n).squareRoot()
                XCTAssertEqual(Double(counts[k]) / n, p, accuracy: tolerance, "\(plans[index].name) class \(k)")
            }
        }
        // The prevalences differ between sites as configured (referral centre mostly malignant).
        XCTAssertGreaterThan(plans[4].prevalence[2], plans[1].prevalence[2] * 3)
    }

    func testSparseLabelHospitalKeepsTheConfiguredFraction() {
        let config = SyntheticCohortConfig(kind: .imaging, seed: 4, preset: .quick, sparseLabelFraction: 0.1)
        let plans = SyntheticSitePlan.plans(for: config)
        let site = SyntheticImagingCohort.generateSite(plans[4], index: 4, seed: 4)
        XCTAssertEqual(site.train.labelled.count, 22)
        XCTAssertEqual(site.train.unlabelled.rows, 198)
        XCTAssertEqual(Double(site.train.labelled.count) / Double(site.train.count), 0.1, accuracy: 0.005)
        XCTAssertEqual(site.test!.unlabelled.rows, 0)
        XCTAssertEqual(site.test!.labelled.count, 150)
        // The unlabelled scans are real scans of the same scanner, not blanks.
        let (labelledMean, _) = meanStd(site.train.labelled.inputs.data)
        let (unlabelledMean, unlabelledStd) = meanStd(site.train.unlabelled.data)
        XCTAssertEqual(unlabelledMean, labelledMean, accuracy: 0.03)
        XCTAssertGreaterThan(unlabelledStd, 0.1)
    }

    /// The same anatomies through the reference scanner and each hospital archetype: the
    /// pixel statistics move as the configured gain, offset and gamma say; a low-resolution
    /// scanner gives smoother images.
    func testScannerShiftFollowsTheConfiguredParameters() {
        let labels = (0..<300).map { $0 % 3 }
        let rng = SeededRandom(seed: 21)
        let reference = SyntheticImagingCohort.scans(labels: labels, scanner: .reference, rng: rng)
        let (refMean, refStd) = meanStd(reference)
        // The anatomy as the reference scanner sees it without noise: the base of the predictions.
        let anatomy = SyntheticImagingCohort.scans(labels: labels, scanner: SyntheticImagingScanner(noise: 0), rng: rng)
        func roughness(_ x: [Float]) -> Double {
            var s = 0.0
            for i in stride(from: 0, to: x.count, by: 1024) { for p in 0..<1023 where p % 32 != 31 { s += Double(abs(x[i + p + 1] - x[i + p])) } }
            return s / Double(x.count)
        }
        for (k, scanner) in SyntheticImagingScanner.archetypes.enumerated() {
            let shifted = SyntheticImagingCohort.scans(labels: labels, scanner: scanner, rng: rng)
            // Predicted from the reference pixels by the point-wise response alone.
            let predicted = anatomy.map { scanner.gain * powf(max($0, 0), scanner.gamma) + scanner.bias }
            let (predMean, pointStd) = meanStd(predicted)
            let predStd = (pointStd * pointStd + Double(scanner.noise * scanner.noise)).squareRoot()
            let (mean, std) = meanStd(shifted)
            XCTAssertEqual(mean, predMean, accuracy: 0.015, "archetype \(k) mean")
            XCTAssertEqual(std, predStd, accuracy: 0.15 * predStd, "archetype \(k) std (a low-resolution scanner smooths some of it away)")
            if abs(predMean - refMean) > 0.01 { XCTAssertEqual(mean > refMean, predMean > refMean, "archetype \(k) mean direction") }
            if abs(predStd - refStd) > 0.02 { XCTAssertEqual(std > refStd, predStd > refStd, "archetype \(k) contrast direction") }
        }
        XCTAssertGreaterThan(meanStd(SyntheticImagingCohort.scans(labels: labels, scanner: .archetypes[3], rng: rng)).std, refStd * 1.3)
        XCTAssertLessThan(meanStd(SyntheticImagingCohort.scans(labels: labels, scanner: .archetypes[1], rng: rng)).std, refStd * 0.8)
        let lowRes = SyntheticImagingCohort.scans(labels: labels, scanner: .archetypes[1], rng: rng)
        XCTAssertLessThan(roughness(lowRes), roughness(reference) * 0.8, "the 16-pixel scanner is smoother")
        // The identity scanner without noise and blur leaves the anatomy; noise alone adds variance.
        let clean = SyntheticImagingScanner(noise: 0, blur: 0)
        let noisy = SyntheticImagingScanner(noise: 0.2, blur: 0)
        XCTAssertGreaterThan(meanStd(SyntheticImagingCohort.scans(labels: labels, scanner: noisy, rng: rng)).std,
                             meanStd(SyntheticImagingCohort.scans(labels: labels, scanner: clean, rng: rng)).std + 0.05)
    }

    /// The written cohort's hospitals differ from the source in the direction of their scanners.
    func testHospitalImagesAreShiftedFromTheSource() {
        let cohort = SyntheticCohort.generate(SyntheticCohortConfig(kind: .imaging, seed: 5, preset: .quick))
        let source = meanStd(cohort.sites[0].validation!.labelled.inputs.data)
        let bright = meanStd(cohort.site(named: "hospital-4")!.test!.labelled.inputs.data)   // gain 1.4, gamma 0.7
        let dim = meanStd(cohort.site(named: "hospital-2")!.test!.labelled.inputs.data)      // gain 0.8, gamma 1.25
        let close = meanStd(cohort.site(named: "hospital-1")!.test!.labelled.inputs.data)    // near the reference
        XCTAssertGreaterThan(bright.std, source.std * 1.3)
        XCTAssertGreaterThan(bright.mean, source.mean + 0.02)
        XCTAssertLessThan(dim.std, source.std * 0.8)
        XCTAssertEqual(close.mean, source.mean, accuracy: 0.02)
        XCTAssertEqual(close.std, source.std, accuracy: 0.1 * source.std)
        XCTAssertEqual(cohort.site(named: "hospital-4")!.parameters["gain"], 1.4)
    }
}
