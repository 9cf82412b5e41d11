import CohortTransport
import Foundation

/// Everything the coordinator's threads share (the accept loop, the heartbeat, one thread per
/// node in a round, the round runner): the connected sessions and the open round's progress.
/// It lives in one `Mutex` (`Coordinator.state`), so every read and write goes through
/// `withLock` and the compiler checks that nothing escapes it unguarded.
///
/// Rounds are identified by a token: a node thread that outlives its round (it was past the
/// round's wait) finds another token, or none, and records nothing into a later round.
struct CoordinatorState {
    /// Set once the run ends: no session is admitted after it.
    var stopped = false
    /// The authenticated nodes, by name.
    var sessions: [String: Coordinator.Session] = [:]
    /// The last global version each session answered a MODEL of (it holds that version or a
    /// later one), by `Session.serial`; absent until it has.
    var acknowledged: [Int: Int] = [:]
    /// The serial the next admitted session gets.
    var nextSerial = 0
    /// The plain round being run, if any.
    var plain: PlainRoundProgress?
    /// The secure-aggregation attempt being run, if any.
    var secure: SecureRoundProgress?
    /// The round being run (or the last one started); drops are recorded against it.
    var round = 0
    /// Nodes dropped since the last round record took them (`Coordinator.takeDrops`).
    var drops: [NodeDrop] = []

    /// What `admit` decided.
    enum Admission {
        /// Admitted; `replaced` is the old session under the name (its connection had closed),
        /// which the caller closes.
        case admitted(Coordinator.Session, replaced: Coordinator.Session?)
        /// The name has a live session: a second connection under it is refused.
        case nameInUse
        /// The run has stopped.
        case stopped
    }

    /// Whether `name` may be admitted: it has no session, or its session's connection is
    /// closed (a node reconnecting after its old connection died).
    func isAdmissible(_ name: String) -> Bool {
        sessions[name].map { !$0.conn.isOpen } ?? true
    }

    /// Admits `name`, replacing an old session whose connection has closed (a reconnecting
    /// node); refuses it while the old one is live (`isAdmissible`), or once the run stopped.
    mutating func admit(name: String, samples: Int, conn: FramedConnection) -> Admission {
        guard !stopped else { return .stopped }
        guard isAdmissible(name) else { return .nameInUse }
        let session = Coordinator.Session(name: name, samples: samples, conn: conn, serial: nextSerial)
        nextSerial += 1
        let old = sessions[name]
        if let old { acknowledged[old.serial] = nil }
        sessions[name] = session
        return .admitted(session, replaced: old)
    }

    /// Forgets `session` if it is still the live one under its name, noting the drop with
    /// `reason` when one is given.
    mutating func remove(_ session: Coordinator.Session, reason: NodeDrop.Reason? = nil, detail: String = "") {
        guard sessions[session.name] === session else { return }
        sessions[session.name] = nil
        acknowledged[session.serial] = nil
        if let reason {
            drops.append(NodeDrop(node: session.name, round: round, at: Date().timeIntervalSince1970, reason: reason, detail: detail))
        }
    }

    /// `session`'s node holds global version `version` (it answered a MODEL of that version);
    /// nothing is remembered for a session that is gone.
    mutating func acknowledge(_ session: Coordinator.Session, version: Int) {
        guard sessions[session.name] === session else { return }
        acknowledged[session.serial] = max(acknowledged[session.serial] ?? version, version)
    }

    /// The connected sessions in name order.
    var sortedSessions: [Coordinator.Session] { sessions.values.sorted { $0.name < $1.name } }
}

extension Coordinator {
    /// One authenticated node connection. Immutable; what changes about it (the version it
    /// acknowledged) lives in `CoordinatorState`.
    final class Session: Sendable {
        let name: String
        let samples: Int
        let conn: FramedConnection
        /// Tells this session from an earlier or later one under the same name.
        let serial: Int
        init(name: String, samples: Int, conn: FramedConnection, serial: Int) {
            self.name = name; self.samples = samples; self.conn = conn; self.serial = serial
        }
    }
}
