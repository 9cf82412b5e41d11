import CohortAdapt
import Foundation

/// Checks that LogME tells a good checkpoint from a poor one: `cohort model init` writes a
/// randomly initialised model of the source architecture, and `cohort rank` scores it and the
/// pre-trained source model on every hospital's labelled training rows. Writes `rank.json`.
struct TransferabilityCheck {
    let executable: String
    let sourceCheckpoint: String
    let sites: [SimulatedSite]
    /// Folder for the architecture, the random checkpoint, rank.json and logs.
    let directory: String
    let seed: UInt64

    /// What `cohort rank --json` prints.
    struct RankOutput: Decodable {
        var data: [String]
        var ranking: [TransferabilityRanking.Row]
    }

    /// Runs the check and returns its Findings line.
    func run(architecture: Data) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = { (name: String) in (directory as NSString).appendingPathComponent(name) }
        try architecture.write(to: URL(fileURLWithPath: path("model.json")))
        try ChildProcess.runToEnd(name: "random initialisation", executable: executable,
                                  arguments: ["model", "init", "--arch", path("model.json"), "--out", path("random.ckpt"), "--seed", "\(seed &+ 99)"],
                                  logPath: path("init.log"), timeout: 120)
        let rankLog = path("rank.json")
        try ChildProcess.runToEnd(name: "LogME ranking", executable: executable,
                                  arguments: ["rank", "--models", sourceCheckpoint, path("random.ckpt"), "--data"] + sites.map(\.trainPath) + ["--json"],
                                  logPath: rankLog, timeout: 600)
        guard let data = FileManager.default.contents(atPath: rankLog),
              let output = try? JSONDecoder().decode(RankOutput.self, from: data) else {
            throw SimulationError("cannot read the ranking in \(rankLog)")
        }
        let sourceName = ((sourceCheckpoint as NSString).lastPathComponent as NSString).deletingPathExtension
        guard let good = output.ranking.first(where: { $0.model == sourceName }), let poor = output.ranking.first(where: { $0.model == "random" }) else {
            throw SimulationError("\(rankLog) lacks the source or the random model")
        }
        let parts = zip(sites, output.data).map { site, key -> (String, Bool) in
            let g = good.perData[key] ?? .nan, p = poor.perData[key] ?? .nan
            return (String(format: "%@ %.3f vs %.3f", site.name, g, p), g > p)
        }
        return "LogME (cohort rank) ranks the pre-trained source model above a randomly initialised one on every hospital's labelled training rows: "
            + (parts.allSatisfy(\.1) ? "HOLDS" : "DOES NOT HOLD") + " — " + parts.map(\.0).joined(separator: "; ") + "."
    }
}
