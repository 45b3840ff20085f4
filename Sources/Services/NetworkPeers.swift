import Actors
import Domain
import Foundation

/// The NetBird peer an account registers as the device it works from, which `network_required`
/// policies accept as proof of the overlay network. NetBird itself is asked, at registration and
/// again at every launch that needs the proof, whether the peer exists, is connected and belongs
/// to the NetBird user with the account's e-mail address: nobody proves anything by naming
/// someone else's peer, nor by a peer that has since gone. Without NetBird's API configured
/// nothing can be registered. Audited.
public struct NetworkPeers: Sendable {
    private let store: any Store
    private let directory: (any NetworkPeerDirectory)?
    private let audit: AuditTrail
    private let tokenCache: TokenCache
    private let clock: WallClock

    public init(
        store: any Store, directory: (any NetworkPeerDirectory)?, audit: AuditTrail, tokenCache: TokenCache, clock: WallClock
    ) {
        self.store = store
        self.directory = directory
        self.audit = audit
        self.tokenCache = tokenCache
        self.clock = clock
    }

    public func register(_ peerID: String, for principal: Principal, from address: String) async throws {
        guard (1...100).contains(peerID.utf8.count), peerID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_".contains($0)) })
        else { throw DomainError.invalid("peer_id must be 1-100 letters, digits, - or _") }
        guard let directory else {
            throw DomainError.conflict("NetBird is not configured here (NETBIRD_API_URL): no peer can be checked")
        }
        guard let peer = try await directory.peer(peerID), peer.connected else {
            throw DomainError.invalid("peer_id is not a connected NetBird peer")
        }
        guard peer.proves(email: principal.email) else {
            throw DomainError.invalid("peer_id belongs to another NetBird user than \(principal.email)")
        }
        try await audit.change {
            guard try await store.setNetbirdPeer(userID: principal.userID, peerID: peerID, at: clock.now()) else {
                throw DomainError.unauthenticated("Account not found")
            }
            try await audit.record(
                .netbirdPeerRegistered, by: .principal(principal), from: address, resource: ("user", principal.userID),
                details: ["peer_id": peerID])
        }
        tokenCache.evict(userID: principal.userID)
    }

    /// Whether `user`'s registered peer proves it is on the network now (false when it has none,
    /// when NetBird says otherwise, or when NetBird cannot be asked: a launch that needs the proof
    /// is then refused, not let through).
    public func proves(_ user: User) async -> Bool {
        guard let peerID = user.netbirdPeerID, let directory else { return false }
        return (try? await directory.peer(peerID))??.proves(email: user.email) ?? false
    }

    public func remove(for principal: Principal, from address: String) async throws {
        try await audit.change {
            // Read in the change: of two removals at once, one removes and the other finds none.
            guard let user = try await store.user(id: principal.userID) else { throw DomainError.unauthenticated("Account not found") }
            guard let peer = user.netbirdPeerID else { throw DomainError.notFound("No NetBird peer is registered") }
            guard try await store.setNetbirdPeer(userID: principal.userID, peerID: nil, at: clock.now()) else {
                throw DomainError.unauthenticated("Account not found")
            }
            try await audit.record(
                .netbirdPeerRemoved, by: .principal(principal), from: address, resource: ("user", principal.userID),
                details: ["peer_id": peer])
        }
        tokenCache.evict(userID: principal.userID)
    }
}
