import Synchronization

/// Counts open connections per client address, shared by every event loop that accepts them.
///
/// A lock rather than an actor: it is asked once per accepted connection, on the event loop that
/// sets the connection up, and must answer before the set-up returns.
final class AddressCensus: Sendable {
    enum Admission: Equatable {
        case admitted
        /// Over the limit; `first` for the first refusal since the client was last under it, so
        /// that a flood of refused connections is reported once, not once each.
        case refused(first: Bool)
    }

    private struct Tally {
        var open: [String: Int] = [:]
        /// Clients refused since they were last under the limit.
        var refusing: Set<String> = []
    }

    private let limit: Int
    private let tally = Mutex(Tally())

    init(limit: Int) {
        self.limit = limit
    }

    /// Counts a new connection under `key`, or refuses it (counting nothing) when the key
    /// already holds `limit` connections.
    func admit(_ key: String) -> Admission {
        tally.withLock { tally in
            let open = tally.open[key, default: 0]
            guard open < limit else { return .refused(first: tally.refusing.insert(key).inserted) }
            tally.open[key] = open + 1
            return .admitted
        }
    }

    /// Forgets one connection under `key` that `admit` counted.
    func release(_ key: String) {
        tally.withLock { tally in
            guard let open = tally.open[key] else { return }
            tally.open[key] = open > 1 ? open - 1 : nil
            tally.refusing.remove(key)
        }
    }
}
