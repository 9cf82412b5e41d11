import CohortData
import Foundation

extension Coordinator {
    /// Under `plan.preprocessing.fit = federated`, before round 1: waits for `minNodes`, runs the
    /// `StatisticsRound` over the connected nodes and keeps the fit (stored in every checkpoint
    /// from then on). A resumed run ships the fit its checkpoint carries instead of refitting.
    func runStatisticsRoundIfPlanned() throws {
        guard let section = plan.preprocessing, section.fit == .federated else { return }
        try waitForNodes(config.minNodes)
        let connected = state.withLock { Array($0.sessions.values) }.sorted { $0.name < $1.name }
        let release = plan.privacy.map { p in
            StatisticsMessages.PrivateRelease(noiseMultiplier: section.noiseMultiplier ?? p.noiseMultiplier!, mode: p.mode, bounds: section.bounds ?? [:])
        }
        let round = StatisticsRound(plan: section, secure: plan.secureAggregation, privacy: release, timeout: config.roundTimeout, minimum: config.minNodes)
        let ids = secureAggregationIDs
        let participants = connected.map { StatisticsRound.Participant(name: $0.name, conn: $0.conn, id: ids[$0.name] ?? 0, samples: $0.samples) }
        var failed: [String: String] = [:]
        if !journaled.isEmpty, let existing = preprocessing {
            try round.ship(existing, to: participants, failed: &failed)
            if let sigma = existing.noiseMultiplier, let privacy = plan.privacy {
                // The statistics were released once; the rebuilt accountant takes that step again.
                accountant.step(noiseMultiplier: sigma, sampleRate: 1)
                log("coordinator: the preprocessing's private release (σ = \(Self.format(sigma))) is accounted again: ε = \(Self.format(accountant.epsilon(delta: privacy.delta))) at δ = \(privacy.delta)")
            }
            log("coordinator: resumed with the preprocessing fitted on \(existing.rows) rows; sent it to \(participants.count - failed.count) node(s)")
        } else {
            let outcome = try round.run(participants, log: log)
            preprocessing = outcome.preprocessing
            failed = outcome.failed
            if let sigma = outcome.noiseMultiplier, let privacy = plan.privacy {
                // Every site takes part (sampling rate 1); composed with the rounds by the one accountant.
                accountant.step(noiseMultiplier: sigma, sampleRate: 1)
                log("coordinator: statistics round: released under \(privacy.mode.rawValue) DP with σ = \(Self.format(sigma)): "
                    + "ε = \(Self.format(accountant.epsilon(delta: privacy.delta))) at δ = \(privacy.delta) so far")
            }
            let sites = outcome.rows.isEmpty ? "summed under secure aggregation from " + outcome.summed.joined(separator: ", ")
                : outcome.rows.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            log("coordinator: statistics round: fitted the preprocessing on \(outcome.preprocessing.rows) rows (\(sites)); "
                + "normalisation \(section.normalise.rawValue)")
            let learned = outcome.preprocessing.schema.features.filter { $0.learned == true }
            if !learned.isEmpty {
                log("coordinator: statistics round: learned categories: " + learned.map { f in
                    "\(f.name) [" + f.values.prefix(12).joined(separator: ", ") + (f.values.count > 12 ? ", … (\(f.values.count))" : "") + "]"
                }.joined(separator: "; "))
            }
        }
        for s in connected where failed[s.name] != nil {
            log("coordinator: statistics round: dropping '\(s.name)': \(failed[s.name]!)")
            dropSession(s)
        }
    }
}
