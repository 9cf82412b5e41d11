#if canImport(Glibc)
import Glibc
#endif

/// How much pre-authentication work a `HandshakeGate` takes on (see `protocols/wire.md`,
/// "Connection limits").
public struct HandshakeLimits: Sendable, Equatable {
    /// Most unauthenticated connections held at once. When a new one arrives at the cap, the
    /// oldest that has not completed HELLO is closed (else the oldest), so a flood of idle or
    /// stalled connections cannot keep a real node out: its HELLO arrives at once and is
    /// answered before it becomes the oldest.
    public var maxPending: Int
    /// Most unauthenticated connections from one address (host, without port); at the cap the
    /// oldest from that address is closed the same way.
    public var maxPendingPerAddress: Int
    /// Seconds from accept to WELCOME; a connection still unauthenticated then is closed.
    public var deadline: Double
    /// Largest frame payload before authentication (HELLO and AUTH are a few hundred bytes).
    public var maxPayload: Int

    /// Descriptors kept free for the journal, checkpoints, data files and the sessions' own
    /// needs when the limits are fitted to the process's descriptor limit.
    public static let reservedDescriptors = 64
    /// The cap on unauthenticated connections when descriptors are plentiful.
    public static let defaultMaxPending = 256
    /// The per-address cap when descriptors are plentiful.
    public static let defaultMaxPendingPerAddress = 64

    public init(maxPending: Int = defaultMaxPending, maxPendingPerAddress: Int = defaultMaxPendingPerAddress,
                deadline: Double = 10, maxPayload: Int = 4096) {
        self.maxPending = max(1, maxPending)
        self.maxPendingPerAddress = max(1, maxPendingPerAddress)
        self.deadline = deadline
        self.maxPayload = maxPayload
    }

    /// Limits that keep `reservedDescriptors` plus two per expected session free under
    /// `descriptorLimit` (the soft RLIMIT_NOFILE), so unauthenticated connections can never
    /// take the descriptors a journal write needs. At least 4 pending connections are allowed.
    public static func fitted(descriptorLimit: Int, sessions: Int, deadline: Double = 10) -> HandshakeLimits {
        let room = descriptorLimit - reservedDescriptors - 2 * max(0, sessions)
        let pending = max(4, min(defaultMaxPending, room))
        return HandshakeLimits(maxPending: pending, maxPendingPerAddress: max(2, min(defaultMaxPendingPerAddress, pending / 2)),
                               deadline: deadline)
    }

    /// The process's soft descriptor limit (RLIMIT_NOFILE), capped at 1<<20.
    public static func currentDescriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        return Int(min(limit.rlim_cur, 1 << 20))
    }
}
