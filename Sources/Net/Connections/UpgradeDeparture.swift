import NIOHTTP1

/// When a handler of HTTP/1 parts leaves the pipeline of a connection that may become a stream:
/// at the connection's first head, if NIO may upgrade it (`StreamGateway.mayUpgrade`). After an
/// upgrade the HTTP handlers around it are gone and what follows is WebSocket frames, which a
/// handler still expecting HTTP parts would trap on (the whole process down).
struct UpgradeDeparture {
    private var firstHead: Bool

    /// - Parameter upgradable: whether the connection's first request may be upgraded at all.
    init(upgradable: Bool) {
        firstHead = upgradable
    }

    /// Whether to leave at `head`; asked at every head the handler reads.
    mutating func leaves(at head: HTTPRequestHead) -> Bool {
        defer { firstHead = false }
        return firstHead && StreamGateway.mayUpgrade(head)
    }
}
