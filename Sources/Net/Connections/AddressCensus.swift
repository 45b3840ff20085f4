import Synchronization

/// Counts open connections per client address, shared by every event loop that accepts them.
///
/// A lock rather than an actor: it is asked once per accepted connection, on the event loop that
/// sets the connection up, and must answer before the set-up returns.
final class AddressCensus: Sendable {
    private let limit: Int
    private let counts = Mutex<[String: Int]>([:])

    init(limit: Int) {
        self.limit = limit
    }

    /// Counts a new connection from `address`; false (and nothing counted) when the address
    /// already holds `limit` connections.
    func admit(_ address: String) -> Bool {
        counts.withLock { counts in
            let open = counts[address, default: 0]
            guard open < limit else { return false }
            counts[address] = open + 1
            return true
        }
    }

    /// Forgets one connection of `address` that `admit` counted.
    func release(_ address: String) {
        counts.withLock { counts in
            guard let open = counts[address] else { return }
            counts[address] = open > 1 ? open - 1 : nil
        }
    }

    /// Open connections under `key`.
    func count(of key: String) -> Int {
        counts.withLock { $0[key, default: 0] }
    }

    /// What one client is counted as: an IPv4 address (an IPv4-mapped IPv6 one included), or an
    /// IPv6 address's /64, which one host usually holds whole; nil for anything else.
    static func key(for address: String) -> String? {
        guard let bytes = AddressRange.bytes(of: address) else { return nil }
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        return bytes.prefix(8).map { String($0, radix: 16) }.joined(separator: ":") + "::/64"
    }
}
