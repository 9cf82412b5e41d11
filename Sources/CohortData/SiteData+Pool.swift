import CohortNN
import CohortTensor

extension SiteData {
    /// Several sites' data as one (e.g. the pooled reference, or `cohort pretrain` with many
    /// files). Every part must have the same sample shape and class count; `paths` name them
    /// in errors.
    public static func pool(_ parts: [SiteData], paths: [String]) throws -> SiteData {
        guard let first = parts.first else { throw DataError("no data files to pool") }
        var inputs: [Float] = [], labels: [Int] = [], unlabelled: [Float] = [], targets: [Float] = []
        var unlabelledRows = 0
        for (part, path) in zip(parts, paths) {
            guard part.sampleShape == first.sampleShape else {
                throw DataError("\(path): samples have shape \(part.sampleShape), \(paths[0]) has \(first.sampleShape)")
            }
            guard part.classes == first.classes else {
                throw DataError("\(path): \(part.classes) classes, \(paths[0]) has \(first.classes)")
            }
            guard part.labelled.isRegression == first.labelled.isRegression,
                  (part.labelled.targets?.columns ?? 0) == (first.labelled.targets?.columns ?? 0) else {
                throw DataError("\(path): \(part.labelled.isRegression ? "regression targets" : "class labels"), \(paths[0]) has \(first.labelled.isRegression ? "regression targets" : "class labels") (or another target count)")
            }
            guard part.labelled.targetScaling == first.labelled.targetScaling else {
                throw DataError("\(path): its targets are standardised differently from \(paths[0])'s")
            }
            if let t = part.labelled.targets { targets += t.data }
            inputs += part.labelled.inputs.data
            labels += part.labelled.labels
            unlabelled += part.unlabelled.data
            unlabelledRows += part.unlabelled.rows
        }
        let features = first.features
        let pooledInputs = Tensor(shape: [labels.count, features], data: inputs)
        let labelled = first.labelled.targets.map {
            LabelledData(inputs: pooledInputs, targets: Tensor(shape: [labels.count, $0.columns], data: targets), scaling: first.labelled.targetScaling)
        } ?? LabelledData(inputs: pooledInputs, labels: labels)
        return SiteData(labelled: labelled,
                        unlabelled: Tensor(shape: [unlabelledRows, features], data: unlabelled), sampleShape: first.sampleShape,
                        classes: first.classes, featureNames: first.featureNames, classNames: first.classNames)
    }
}
