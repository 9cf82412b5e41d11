import CohortAdapt
import CohortData
import CohortNN
import CohortTensor

/// The domain-shift view of the report: the source model's penultimate features for the
/// source domain and each hospital, projected to 2-D by PCA, and each hospital's MMD and proxy
/// A-distance to the source in that feature space.
enum ShiftAnalysis {
    /// Rows drawn per domain for the picture.
    static let pointsPerDomain = 150

    static func measure(model: Sequential, sourceValidation: String, tests: [(name: String, data: LabelledData)], seed: UInt64) throws -> ShiftView {
        let cut = model.layers.count - 1   // everything but the head
        let backbone = try model.split(at: cut).backbone
        var rng = SeededRandom(seed: seed ^ 0x5157)
        let source = try SiteData.load(path: sourceValidation).labelled
        var domains = [(name: "source", data: source)] + tests
        domains = domains.map { d in
            let order = rng.permutation(d.data.count).prefix(pointsPerDomain)
            return (d.name, d.data.subset(Array(order)))
        }
        var features: [Float] = [], owners: [(String, Int)] = [], width = 0
        var norms: [String: Double] = [:]
        for d in domains {
            let f = Inference.outputs(backbone, d.data.inputs)
            width = f.columns
            features += f.data
            var total = 0.0
            for i in 0..<f.rows {
                var s: Float = 0
                for j in 0..<width { let v = f.data[i * width + j]; s += v * v }
                total += Double(s.squareRoot())
            }
            norms[d.name] = f.rows > 0 ? total / Double(f.rows) : .nan
            owners += d.data.labels.map { (d.name, $0) }
        }
        let pca = PrincipalComponents.project(features, columns: width, components: 2)
        let points = zip(pca.points, owners).map { ShiftPoint(site: $1.0, x: $0[0], y: $0[1], label: $1.1) }
        var shiftConfig = DomainShift.Config()
        shiftConfig.maxSamples = pointsPerDomain
        shiftConfig.seed = seed
        let rows = try DomainShift.measure(model: model, cutAt: cut, source: domains[0].data.inputs,
                                           sites: domains.dropFirst().map { ($0.name, $0.data.inputs) }, config: shiftConfig)
        let perSite = rows.map { SiteShift(site: $0.site, mmd: Double($0.mmd), meanFeatureNorm: norms[$0.site] ?? .nan,
                                                 proxyADistance: Double($0.proxyADistance)) }
        return ShiftView(points: points, explainedVariance: pca.explainedVariance, perSite: perSite)
    }
}
