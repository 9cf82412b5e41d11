import CohortNN
import CohortTensor

/// Ranks candidate checkpoints (and the layers to cut them at) for a labelled target task by
/// LogME on their frozen features, best first, without fine-tuning any of them.
public enum TransferabilityRanking {
    /// One candidate's score.
    public struct Row: Codable, Sendable, Equatable {
        /// The candidate's name (e.g. its file).
        public var model: String
        /// Features after the first `cut` layers.
        public var cut: Int
        /// Name of the last layer before the cut.
        public var layer: String
        /// Feature width LogME saw (after spatial averaging of image feature maps).
        public var features: Int
        /// LogME on each dataset, by name.
        public var perData: [String: Double]
        /// Mean over the datasets: the ranking key.
        public var mean: Double
    }

    /// LogME features refuse more than this many values per row (the eigen-decomposition is cubic).
    public static let maxFeatures = 1024

    /// The features after `cut` layers (evaluation mode) as `[n, d]`; image feature maps
    /// `[H, W, C]` are averaged over positions to `C` values.
    public static func features(_ model: Sequential, inputs: Tensor, cut: Int) throws -> Tensor {
        guard cut >= 1 && cut <= model.layers.count else {
            throw AdaptationError("cut \(cut) is outside 1...\(model.layers.count) (the model has \(model.layers.count) layers)")
        }
        let backbone = try model.split(at: cut).backbone
        let out = Inference.outputs(backbone, inputs)
        let n = inputs.rows
        guard out.rank == 4 else { return out.reshaped([n, out.columns]) }
        let positions = out.shape[1] * out.shape[2], c = out.shape[3]
        var pooled = [Float](repeating: 0, count: n * c)
        for i in 0..<n {
            for p in 0..<positions { for j in 0..<c { pooled[i * c + j] += out.data[(i * positions + p) * c + j] } }
            for j in 0..<c { pooled[i * c + j] /= Float(positions) }
        }
        return Tensor(shape: [n, c], data: pooled)
    }

    /// Scores every candidate at every cut in `cuts` (nil: the features entering the last
    /// layer) on every dataset; returns the rows sorted by mean LogME, best first.
    public static func rank(models: [(name: String, model: Sequential)], data: [(name: String, data: LabelledData, classes: Int)],
                            cuts: [Int]? = nil) throws -> [Row] {
        guard !models.isEmpty, !data.isEmpty else { throw AdaptationError("ranking needs at least one model and one labelled dataset") }
        var rows: [Row] = []
        for (name, model) in models {
            let columns = model.inputShape.reduce(1, *)
            for d in data {
                guard d.data.count >= 2 else { throw AdaptationError("'\(d.name)': LogME needs at least 2 labelled rows, found \(d.data.count)") }
                guard d.data.inputs.columns == columns else {
                    throw AdaptationError("'\(d.name)' has \(d.data.inputs.columns) values per sample; '\(name)' expects input \(model.inputShape)")
                }
                if let row = d.data.labels.firstIndex(where: { $0 < 0 || $0 >= d.classes }) {
                    throw AdaptationError("'\(d.name)': label \(d.data.labels[row]) at row \(row) is outside its \(d.classes) classes")
                }
            }
            for cut in cuts ?? [model.layers.count - 1] {
                var perData: [String: Double] = [:]
                var width = 0
                for d in data {
                    let f = try features(model, inputs: d.data.inputs, cut: cut)
                    width = f.columns
                    guard width <= maxFeatures else {
                        throw AdaptationError("'\(name)' at cut \(cut) gives \(width) features per row; LogME takes at most \(maxFeatures)")
                    }
                    perData[d.name] = LogME.score(features: f, labels: d.data.labels, classes: d.classes)
                }
                let mean = perData.values.reduce(0, +) / Double(perData.count)
                rows.append(Row(model: name, cut: cut, layer: model.layers[cut - 1].name, features: width, perData: perData, mean: mean))
            }
        }
        return rows.sorted { $0.mean > $1.mean }
    }
}
