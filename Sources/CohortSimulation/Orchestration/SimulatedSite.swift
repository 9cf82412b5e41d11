/// A hospital as the orchestrator sees it: its name and its data files.
public struct SimulatedSite: Sendable, Equatable {
    public var name: String
    /// Training data (labelled and unlabelled rows) the site's node reads.
    public var trainPath: String
    /// Held-out labelled test data, used only for evaluation.
    public var testPath: String
    public init(name: String, trainPath: String, testPath: String) {
        self.name = name; self.trainPath = trainPath; self.testPath = testPath
    }
}
