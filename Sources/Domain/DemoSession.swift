import Foundation

/// A visitor's just-in-time demo: one `demo-user` account, one workspace, one bearer token, all
/// taken back when `expiresAt` passes.
public struct DemoSession: Sendable, Equatable {
    public enum Status: String, Sendable, Codable, CaseIterable {
        case active
        /// A replica has claimed the clean-up and is running it (or died doing so: its lease runs out).
        case expiring
        /// Cleaned up at its deadline.
        case expired
        /// Ended early by its owner or an administrator, then cleaned up.
        case ended
    }

    public var id: String
    public var userID: String
    public var workspaceID: String
    public var workspaceType: String
    /// The address the visitor gave, if any; the account itself has a generated one.
    public var contactEmail: String?
    public var clientAddress: String
    public var status: Status
    public var createdAt: Date
    public var expiresAt: Date
    /// `createdAt` plus the longest a demo may last: extensions never go past it.
    public var maxExpiresAt: Date
    public var endedAt: Date?
    /// What the provisioner returned: where the visitor connects, and its NetBird peer if any.
    public var connectionURL: String?
    public var networkPeerID: String?
    /// Clean-up steps already done, so a resumed clean-up does each exactly once.
    public var completedSteps: [DemoCleanupStep]
    /// Whether the clean-up was for expiry (`expired`) or an early end (`ended`).
    public var endingAs: Status?
    /// The replica running the clean-up, and until when its claim holds.
    public var claimedBy: String?
    public var claimedUntil: Date?

    public init(
        id: String, userID: String, workspaceID: String, workspaceType: String, contactEmail: String?,
        clientAddress: String, status: Status = .active, createdAt: Date, expiresAt: Date, maxExpiresAt: Date,
        endedAt: Date? = nil, connectionURL: String? = nil, networkPeerID: String? = nil,
        completedSteps: [DemoCleanupStep] = [], endingAs: Status? = nil, claimedBy: String? = nil,
        claimedUntil: Date? = nil
    ) {
        self.id = id
        self.userID = userID
        self.workspaceID = workspaceID
        self.workspaceType = workspaceType
        self.contactEmail = contactEmail
        self.clientAddress = clientAddress
        self.status = status
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.maxExpiresAt = maxExpiresAt
        self.endedAt = endedAt
        self.connectionURL = connectionURL
        self.networkPeerID = networkPeerID
        self.completedSteps = completedSteps
        self.endingAs = endingAs
        self.claimedBy = claimedBy
        self.claimedUntil = claimedUntil
    }

    /// The remaining clean-up steps, in order.
    public var pendingSteps: [DemoCleanupStep] {
        DemoCleanupStep.allCases.filter { !completedSteps.contains($0) }
    }

    /// Whether the visitor may still use it at `now`: access ends at the deadline, clean-up or not.
    public func grantsAccess(at now: Date) -> Bool { status == .active && now < expiresAt }

    /// The expiry after extending by `minutes`, capped at `maxExpiresAt`; nil when no longer active
    /// or already at the cap.
    public func extended(byMinutes minutes: Int, at now: Date) -> Date? {
        guard grantsAccess(at: now) else { return nil }
        let extended = min(expiresAt.addingTimeInterval(TimeInterval(minutes) * 60), maxExpiresAt)
        return extended > expiresAt ? extended : nil
    }
}

/// What is taken back when a demo ends, in this order. Each step is retried until it succeeds and
/// is never skipped; the last one marks the demo finished.
public enum DemoCleanupStep: String, Sendable, Codable, CaseIterable {
    case endSessions = "end_sessions"
    case deprovisionWorkspace = "deprovision_workspace"
    case revokeNetworkPeer = "revoke_network_peer"
    case removeIdentityRole = "remove_identity_role"
    case revokeToken = "revoke_token"
    case markFinished = "mark_finished"
}

/// The outside systems a demo touches, behind protocols so deployments choose them by
/// configuration (a webhook to Kasm or Guacamole, NetBird, Zitadel) and tests use real peers.
public protocol DemoProvisioner: Sendable {
    /// Prepares the demo's workspace (`recording`: a `session_recording` policy covers the
    /// visitor's sessions on it); returns where the visitor connects and its NetBird peer, if any.
    func provision(
        _ demo: DemoSession, workspace: Workspace, recording: Bool
    ) async throws -> (
        connectionURL: String?, networkPeerID: String?
    )
    func deprovision(_ demo: DemoSession) async throws
}

public protocol NetworkAccessRevoker: Sendable {
    /// Removes the demo's overlay-network peer. Must succeed (or throw) even if it was already gone.
    func revokePeer(_ peerID: String) async throws
}

/// The overlay network's own word on a peer (NetBird's management API).
public protocol NetworkPeerDirectory: Sendable {
    /// The peer `peerID`, or nil when the network has no such peer.
    func peer(_ peerID: String) async throws -> NetworkPeer?
}

/// A peer as the overlay network describes it.
public struct NetworkPeer: Sendable, Equatable {
    public var id: String
    public var connected: Bool
    /// The e-mail address of the network's user the peer belongs to, if it says.
    public var ownerEmail: String?

    public init(id: String, connected: Bool, ownerEmail: String?) {
        self.id = id
        self.connected = connected
        self.ownerEmail = ownerEmail
    }

    /// Whether this peer proves the account with `email` is on the network now.
    public func proves(email: String) -> Bool {
        connected && ownerEmail?.lowercased() == email.lowercased()
    }
}

public protocol IdentityRoleRevoker: Sendable {
    /// Removes the temporary role granted to the demo's identity at the provider.
    func removeRole(of user: User) async throws
}
