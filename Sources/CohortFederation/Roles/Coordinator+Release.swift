import CohortCheckpoint
import Foundation

/// Rounds that released something but were not applied (protocols/privacy.md, "Release point").
///
/// Under secure aggregation the release point is sending SECAGG_SURVIVORS: from then on the
/// coordinator may gather enough unmasking shares to rebuild the survivors' sum. So before the
/// survivors go out, the accountant takes the round's step and the round's record is journaled
/// (marked `unapplied` until the round completes). If the round then fails, its record stays,
/// accounted, and the run goes on with the next round on the unchanged model: the same model is
/// never trained on again for that round, so no two sums over different survivor sets are ever
/// built from the same inputs.
///
/// On `--resume`, a record that is ahead of the checkpoint (the release record of a round the
/// coordinator did not finish, or a round whose checkpoint write a crash cut off) is kept,
/// accounted and marked unapplied when the run had privacy or secure aggregation; without
/// either, that round is run again.
extension Coordinator {
    /// The records to resume from: those the checkpoint of `checkpointRound` covers, and a
    /// released round after them (see above), marked unapplied.
    static func keepingReleased(_ records: [RoundRecord], checkpointRound: Int) -> [RoundRecord] {
        guard records.count == checkpointRound + 1, var lead = records.last,
              lead.noiseMultiplier != nil || lead.secureAggregationThreshold != nil else { return Array(records.prefix(checkpointRound)) }
        if lead.unapplied == nil {
            lead.unapplied = "journaled, but the coordinator stopped before the checkpoint recorded it: its result was lost, not applied"
        }
        return records.dropLast() + [lead]
    }

    /// Writes `records` as `rounds.jsonl`, durably (temp file, fsync, rename, directory fsync).
    func writeRoundRecords(_ records: [RoundRecord]) throws {
        let encoder = JournalCoding.encoder
        var lines: [UInt8] = []
        for r in records { lines += try encoder.encode(r); lines += Array("\n".utf8) }
        try DurableFile.write(lines, to: (config.outDir as NSString).appendingPathComponent("rounds.jsonl"))
    }

    /// Journals `record`, a round at its release point, after the journaled rounds (the
    /// checkpoint is not touched: the round's result, if any, is journaled with it later).
    func journalRelease(_ record: RoundRecord) throws {
        precondition(record.unapplied != nil, "a release record is marked unapplied until its round completes")
        try writeRoundRecords(journaled + [record])
    }
}
