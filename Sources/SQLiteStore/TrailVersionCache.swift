import Domain
import Synchronization

/// The audit trail's version (`AuditTrailVersion`) as last read, answered again without a
/// statement while it must still hold: this process has committed no transaction since it was
/// read, and it was read less than `outsideWritesSeenWithin` ago. Reading it was a hand-off to
/// SQLite's thread pool and back, and a statement prepared anew, for every newest page of the
/// audit list: more than half of the list's CPU (docs/benchmarks.md).
///
/// Every change this process makes ends a transaction of the single writer, which moves the
/// generation before the change is acknowledged: a caller that changed the trail reads its
/// change at once. Another process writing the same file (the CLI beside a running server) is
/// not told of; its entries are seen once the version read last is older than the bound, as a
/// revocation by another process reaches the token cache within its lifetime.
final class TrailVersionCache: Sendable {
    /// How long a version read is answered again when this process has changed nothing.
    static let outsideWritesSeenWithin = Duration.seconds(1)

    /// A ticket for one read: the generation and the time when it began.
    struct Ticket: Sendable, Equatable {
        fileprivate let generation: UInt64
        fileprivate let began: ContinuousClock.Instant
    }

    private struct State {
        var generation: UInt64 = 0
        /// The version last read in this generation, with the time its read began (nil once a
        /// transaction ends).
        var known: (version: AuditTrailVersion?, readAt: ContinuousClock.Instant)?
    }

    private let state = Mutex(State())
    private let lifetime: Duration

    init(lifetime: Duration = outsideWritesSeenWithin) {
        self.lifetime = lifetime
    }

    enum Lookup: Equatable {
        /// The version, still standing (nil: the trail is empty).
        case known(AuditTrailVersion?)
        /// To be read; hand the ticket back with what was read.
        case read(Ticket)
    }

    func lookup(now: ContinuousClock.Instant = .now) -> Lookup {
        state.withLock { state in
            if let known = state.known, now - known.readAt < lifetime {
                return .known(known.version)
            }
            return .read(Ticket(generation: state.generation, began: now))
        }
    }

    /// What the read `ticket` began found; kept unless a transaction ended since the read began
    /// (it may have read the trail before or after that transaction's commit), or a read begun
    /// later was kept already (a version once left must not come back).
    func remember(_ version: AuditTrailVersion?, ticket: Ticket) {
        state.withLock { state in
            guard ticket.generation == state.generation else { return }
            if let known = state.known, known.readAt > ticket.began { return }
            state.known = (version, ticket.began)
        }
    }

    /// A write transaction ended (committed or not): whatever was read before may no longer hold.
    func transactionEnded() {
        state.withLock { state in
            state.generation &+= 1
            state.known = nil
        }
    }
}
