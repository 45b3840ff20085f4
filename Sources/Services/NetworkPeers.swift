import Actors
import Domain
import Foundation

/// The NetBird peer an account registers as the device it works from, which `network_required`
/// policies accept as proof of the overlay network. NetBird itself is asked whether the peer
/// exists and is connected, so nobody can register a peer by naming one; without NetBird's API
/// configured nothing can be registered. Audited.
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
        guard try await directory.isConnected(peerID) else {
            throw DomainError.invalid("peer_id is not a connected NetBird peer")
        }
        try await audit.change {
            guard try await store.setNetbirdPeer(userID: principal.userID, peerID: peerID, at: clock.now()) else {
                throw DomainError.unauthenticated("Account not found")
            }
            try await audit.record(
                .netbirdPeerRegistered, by: .principal(principal), from: address, resource: ("user", principal.userID),
                details: ["peer_id": peerID])
        }
        await tokenCache.evict(userID: principal.userID)
    }

    public func remove(for principal: Principal, from address: String) async throws {
        try await audit.change {
            guard try await store.setNetbirdPeer(userID: principal.userID, peerID: nil, at: clock.now()) else {
                throw DomainError.unauthenticated("Account not found")
            }
            try await audit.record(
                .netbirdPeerRemoved, by: .principal(principal), from: address, resource: ("user", principal.userID))
        }
        await tokenCache.evict(userID: principal.userID)
    }
}
