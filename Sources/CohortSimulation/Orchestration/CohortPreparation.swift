import CohortData
import Foundation

/// Generates a run's synthetic cohort on disk and describes it for the orchestrator.
enum CohortPreparation {
    static func generate(config: SimulationConfig, into directory: String) throws -> SimulationCohort {
        if let schemaPath = config.schema {
            let schema = try DatasetSchema.load(path: schemaPath)
            try SchemaCohort.check(schema, source: schemaPath)
            return try SchemaCohort.write(schema: schema, sites: config.sites, seed: config.seed, quick: config.quick, into: directory)
        }
        let kind: CohortKind = config.kind == "tabular" ? .tabular : .imaging
        let synthetic = SyntheticCohortConfig(kind: kind, hospitals: config.sites, seed: config.seed, preset: config.quick ? .quick : .standard)
        let manifest = try SyntheticCohort.write(synthetic, to: directory, force: true)
        guard let source = manifest.source, let validation = source.files.validation else {
            throw SimulationError("\(directory): the generated cohort has no source validation data")
        }
        let sites = try manifest.hospitals.map { site -> SimulatedSite in
            guard let test = site.files.test else { throw SimulationError("\(directory): hospital \(site.name) has no test file") }
            return SimulatedSite(name: site.name, trainPath: manifest.path(of: site.files.train), testPath: manifest.path(of: test))
        }
        let infos = manifest.hospitals.map {
            SiteInfo(name: $0.name, trainLabelled: $0.counts.labelled, trainUnlabelled: $0.counts.unlabelled, test: $0.counts.test,
                     prevalence: $0.prevalence, scanner: $0.parameters)
        }
        let shape = manifest.sampleShape
        let inputShape = shape.count == 3 ? [shape[1], shape[2], shape[0]] : shape
        return SimulationCohort(sourceTrain: manifest.path(of: source.files.train), sourceValidation: manifest.path(of: validation),
                                sites: sites, siteInfos: infos, classes: manifest.classes, modelInputShape: inputShape)
    }
}
