import XCTest
import Foundation
import CohortFederation

/// The accountant against Opacus's RDPAccountant: `Fixtures/rdp-reference.json` was written by
/// `scripts/make-rdp-reference.py` with Opacus from PyPI (version recorded in the file).
final class RDPAccountantTests: XCTestCase {
    private struct Reference: Decodable {
        struct Entry: Decodable { let q: Double, sigma: Double, steps: Int, delta: Double, epsilon: Double, order: Double }
        struct Noise: Decodable { let epsilon: Double, delta: Double, q: Double, steps: Int, sigma: Double }
        let opacus: String
        let orders: [Double]
        let entries: [Entry]
        let noiseMultiplier: [Noise]
    }

    private func reference() throws -> Reference {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "rdp-reference", withExtension: "json", subdirectory: "Fixtures"))
        return try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }

    func testDefaultOrdersAreOpacus() throws {
        XCTAssertEqual(RDPAccountant.defaultOrders, try reference().orders)
    }

    func testEveryReferenceEpsilonMatchesOpacusWithinOnePercent() throws {
        let ref = try reference()
        XCTAssertEqual(ref.entries.count, 4 * 5 * 4 * 2)
        var worst = (relative: 0.0, entry: ref.entries[0], ours: 0.0)
        for e in ref.entries {
            var acc = RDPAccountant()
            acc.step(noiseMultiplier: e.sigma, sampleRate: e.q, count: e.steps)
            let (eps, order) = acc.privacySpent(delta: e.delta)
            let rel = abs(eps - e.epsilon) / e.epsilon
            XCTAssertLessThanOrEqual(rel, 0.01, "q=\(e.q) σ=\(e.sigma) steps=\(e.steps) δ=\(e.delta): ε \(eps) vs Opacus \(e.epsilon)")
            XCTAssertEqual(order, e.order, "best order for q=\(e.q) σ=\(e.sigma) steps=\(e.steps) δ=\(e.delta)")
            if rel > worst.relative { worst = (rel, e, eps) }
        }
        print("RDP vs Opacus \(ref.opacus): \(ref.entries.count) entries, max relative error \(worst.relative) "
              + "(q=\(worst.entry.q) σ=\(worst.entry.sigma) steps=\(worst.entry.steps) δ=\(worst.entry.delta))")
    }

    func testNoiseMultiplierMeetsTheBudgetLikeOpacus() throws {
        for n in try reference().noiseMultiplier {
            let sigma = try RDPAccountant.noiseMultiplier(forEpsilon: n.epsilon, delta: n.delta, sampleRate: n.q, steps: n.steps)
            let ours = RDPAccountant.epsilon(sampleRate: n.q, noiseMultiplier: sigma, steps: n.steps, delta: n.delta)
            XCTAssertLessThanOrEqual(ours, n.epsilon, "the chosen σ must keep ε within budget")
            XCTAssertGreaterThanOrEqual(ours, n.epsilon - 0.01, "bisection stops within 0.01 of the target")
            XCTAssertEqual(sigma, n.sigma, accuracy: 0.02 * n.sigma, "σ for ε=\(n.epsilon) δ=\(n.delta) q=\(n.q) T=\(n.steps)")
        }
        XCTAssertThrowsError(try RDPAccountant.noiseMultiplier(forEpsilon: 1e-9, delta: 1e-5, sampleRate: 1, steps: 1000))
    }

    /// Issue 18, point 1: DP-SGD announces N, so its neighbours are replace-one; the figure it
    /// reports comes from group privacy over the add/remove accountant.
    func testReplaceOneGuaranteeIsGroupPrivacyAndHoldsForTheExactGaussian() throws {
        var a = RDPAccountant()
        a.step(noiseMultiplier: 1.1, sampleRate: 0.02, count: 500)
        let (eps, delta1) = a.replaceOnePrivacySpent(delta: 1e-5)
        let eps1 = a.epsilon(delta: delta1)
        XCTAssertEqual(eps, 2 * eps1, accuracy: 1e-12)
        XCTAssertLessThanOrEqual((1 + exp(eps1)) * delta1, 1e-5 * (1 + 1e-12), "group privacy's δ stays within the stated δ")
        XCTAssertGreaterThan(eps, 2 * a.epsilon(delta: 1e-5), "δ₁ < δ, so more than twice the add/remove ε")
        XCTAssertLessThan(eps, 3 * a.epsilon(delta: 1e-5), "and not absurdly more")
        XCTAssertEqual(RDPAccountant().replaceOnePrivacySpent(delta: 1e-5).epsilon, 0)
        for (q, steps) in [(0.02, 500), (32.0 / 319, 100), (0.67, 20)] {
            var r = RDPAccountant()
            r.step(noiseMultiplier: 1, sampleRate: q, count: steps)
            let (e, d1) = r.replaceOnePrivacySpent(delta: 1e-5)
            print("replace-one q=\(q) σ=1 T=\(steps): add/remove ε = \(r.epsilon(delta: 1e-5)), replace-one ε = \(e) (δ₁ = \(d1))")
        }

        // Without sampling a replacement moves the sum by 2C: the Gaussian mechanism at σ/2,
        // whose exact δ(ε) (Balle and Wang 2018) must not exceed the stated δ at the stated ε.
        func phi(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }
        for sigma in [0.5, 1.0, 2.0, 5.0] {
            for steps in [1, 10] {
                var g = RDPAccountant()
                g.step(noiseMultiplier: sigma, sampleRate: 1, count: steps)
                let e = g.replaceOnePrivacySpent(delta: 1e-5).epsilon
                // T steps of noise σ with shift 2: one Gaussian with shift 2√T.
                let mu = 2 * Double(steps).squareRoot() / sigma
                let exact = phi(mu / 2 - e / mu) - exp(e) * phi(-mu / 2 - e / mu)
                XCTAssertLessThanOrEqual(exact, 1e-5, "σ = \(sigma), T = \(steps): ε = \(e)")
                let addRemove = g.epsilon(delta: 1e-5)
                let broken = phi(mu / 2 - addRemove / mu) - exp(addRemove) * phi(-mu / 2 - addRemove / mu)
                XCTAssertGreaterThan(broken, 1e-5, "the add/remove ε does not hold for replace-one (σ = \(sigma), T = \(steps))")
            }
        }
    }

    func testStepsComposeAndMerge() {
        var a = RDPAccountant()
        for _ in 0..<30 { a.step(noiseMultiplier: 1.1, sampleRate: 0.1) }
        a.step(noiseMultiplier: 2, sampleRate: 0.05, count: 20)
        XCTAssertEqual(a.history.count, 2)
        XCTAssertEqual(a.history[0].count, 30)
        var b = RDPAccountant()
        b.step(noiseMultiplier: 2, sampleRate: 0.05, count: 20)
        b.step(noiseMultiplier: 1.1, sampleRate: 0.1, count: 30)
        XCTAssertEqual(a.epsilon(delta: 1e-5), b.epsilon(delta: 1e-5), accuracy: 1e-9, "composition is additive in RDP")
        XCTAssertEqual(RDPAccountant().epsilon(delta: 1e-5), 0)
        XCTAssertGreaterThan(a.adding(noiseMultiplier: 1.1, sampleRate: 0.1).epsilon(delta: 1e-5), a.epsilon(delta: 1e-5))
    }

    func testClosedFormsAndMonotonicity() {
        // Without sampling the Gaussian mechanism's RDP is α / (2σ²).
        XCTAssertEqual(RDPAccountant.rdp(sampleRate: 1, noiseMultiplier: 2, order: 8), 1.0, accuracy: 1e-15)
        XCTAssertEqual(RDPAccountant.rdp(sampleRate: 0, noiseMultiplier: 2, order: 8), 0)
        // Integer and fractional orders agree where they meet (the two series are one function of α).
        let q = 0.05, s = 1.3
        let atThree = RDPAccountant.rdp(sampleRate: q, noiseMultiplier: s, order: 3)
        XCTAssertEqual(RDPAccountant.rdp(sampleRate: q, noiseMultiplier: s, order: 3.000001), atThree, accuracy: 1e-4 * atThree)
        // More noise, less sampling or fewer steps: less ε.
        let e = RDPAccountant.epsilon(sampleRate: q, noiseMultiplier: s, steps: 100, delta: 1e-5)
        XCTAssertLessThan(RDPAccountant.epsilon(sampleRate: q, noiseMultiplier: s * 1.5, steps: 100, delta: 1e-5), e)
        XCTAssertLessThan(RDPAccountant.epsilon(sampleRate: q / 2, noiseMultiplier: s, steps: 100, delta: 1e-5), e)
        XCTAssertLessThan(RDPAccountant.epsilon(sampleRate: q, noiseMultiplier: s, steps: 50, delta: 1e-5), e)
        XCTAssertEqual(RDPAccountant.epsilon(sampleRate: q, noiseMultiplier: 0, steps: 1, delta: 1e-5), .infinity)
    }
}
