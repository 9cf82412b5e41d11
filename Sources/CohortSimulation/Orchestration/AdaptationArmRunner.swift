import CohortAdapt
import CohortCheckpoint
import CohortNN
import Foundation

/// Runs a `source+<method>` arm: one `cohort adapt` process per hospital, on the hospital's
/// training file (its inputs; the label-free methods never read the labels, which only measure
/// accuracy before and after), with the source's training data for DANN and CORAL; then scores
/// each adapted checkpoint on the hospital's test data.
struct AdaptationArmRunner {
    let executable: String
    let arm: SimulationArm
    let config: SimulationConfig
    let sites: [SimulatedSite]
    let sourceCheckpoint: String
    let sourceTrain: String
    /// The arm's folder (adapted checkpoints and logs).
    let directory: String

    /// Source rows DANN and CORAL train on per hospital (a seeded subset; bounds the arm's time).
    static let maxSourceRows = 2000

    /// The `cohort adapt` arguments for hospital `index`.
    func arguments(site: SimulatedSite, index: Int, out: String) -> [String] {
        let method = arm.adaptationMethod!
        var args = ["adapt", "--model", sourceCheckpoint, "--target", site.trainPath, "--method", method, "--out", out,
                    "--seed", "\(config.seed &+ UInt64(index))"]
        if AdaptationMethod(rawValue: method)?.needsSource == true {
            args += ["--source", sourceTrain, "--max-source", "\(Self.maxSourceRows)"]
        }
        return args
    }

    func run(tests: [LabelledData], progress: (String) -> Void) throws -> ArmResult {
        let started = Date()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var scores: [SiteScore] = []
        var extra: [String: [String: Double]] = [:]
        for (i, (site, test)) in zip(sites, tests).enumerated() {
            let out = (directory as NSString).appendingPathComponent("\(site.name).ckpt")
            try ChildProcess.runToEnd(name: "\(arm.rawValue) at \(site.name)", executable: executable,
                                      arguments: arguments(site: site, index: i, out: out),
                                      logPath: (directory as NSString).appendingPathComponent("\(site.name).log"), timeout: 3600)
            let checkpoint = try CheckpointFile.load(out)
            let model = try checkpoint.makeModel(path: out)
            scores.append(try SimulationRunner.score(model, test, site: site.name))
            var metrics = checkpoint.metadata.metrics
            metrics["test_accuracy"] = scores.last!.accuracy
            extra[site.name] = metrics
            progress("\(site.name): test accuracy \(String(format: "%.3f", scores.last!.accuracy))"
                     + (metrics["accuracy_before"].flatMap { b in metrics["accuracy_after"].map { String(format: " (labelled training rows, labels unused: %.3f -> %.3f)", b, $0) } } ?? ""))
        }
        return ArmResult(name: arm.rawValue, description: arm.summary, federated: false, perSite: scores, rounds: [],
                         bytesUp: 0, bytesDown: 0, wallSeconds: Date().timeIntervalSince(started), failed: nil, siteMetrics: extra)
    }
}
