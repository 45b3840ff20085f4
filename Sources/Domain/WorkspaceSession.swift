import Foundation

/// One user's use of one workspace, from launch to its end.
public struct WorkspaceSession: Sendable, Equatable, Codable {
    public var id: String
    public var userID: String
    public var userEmail: String
    public var workspaceID: String
    /// Kept as it was at launch, so history reads well after a workspace is renamed or removed.
    public var workspaceName: String
    public var status: SessionStatus
    public var startedAt: Date
    public var endedAt: Date?
    public var expiresAt: Date?
    public var lastSeenAt: Date
    /// The real client address (X-Forwarded-For only when the peer is a trusted proxy).
    public var ipAddress: String
    /// True only if the login that launched it really passed MFA.
    public var mfaVerified: Bool
    /// Why it ended, e.g. `stopped`, `logout`, `user_disabled`, `workspace_deleted`.
    public var endReason: String?
    /// A `session_recording` policy covered its launch.
    public var recording: Bool

    public init(
        id: String, userID: String, userEmail: String, workspaceID: String, workspaceName: String,
        status: SessionStatus, startedAt: Date, endedAt: Date? = nil, expiresAt: Date?, lastSeenAt: Date,
        ipAddress: String, mfaVerified: Bool, endReason: String? = nil, recording: Bool = false
    ) {
        self.recording = recording
        self.id = id
        self.userID = userID
        self.userEmail = userEmail
        self.workspaceID = workspaceID
        self.workspaceName = workspaceName
        self.status = status
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.expiresAt = expiresAt
        self.lastSeenAt = lastSeenAt
        self.ipAddress = ipAddress
        self.mfaVerified = mfaVerified
        self.endReason = endReason
    }

    /// A new active session of `principal` on `workspace`, ending at the workspace's maximum duration.
    public static func launch(
        id: String, of workspace: Workspace, by principal: Principal, from ipAddress: String, at now: Date
    ) -> WorkspaceSession {
        WorkspaceSession(
            id: id, userID: principal.userID, userEmail: principal.email, workspaceID: workspace.id,
            workspaceName: workspace.name, status: .active, startedAt: now,
            expiresAt: now.addingTimeInterval(TimeInterval(workspace.maxSessionMinutes) * 60),
            lastSeenAt: now, ipAddress: ipAddress, mfaVerified: principal.mfaVerified
        )
    }

    /// This session as `ending` leaves it at `now`.
    public func ended(_ ending: SessionEnding, at now: Date) -> WorkspaceSession {
        var ended = self
        ended.status = ending.status
        ended.endedAt = now
        ended.endReason = ending.reason
        return ended
    }
}

/// Why a set of active sessions is being ended, and into which final state.
public struct SessionEnding: Sendable, Equatable {
    public var status: SessionStatus
    public var reason: String

    public init(status: SessionStatus, reason: String) {
        precondition(status.isFinal, "a session can only end in a final state")
        self.status = status
        self.reason = reason
    }

    public static let stopped = SessionEnding(status: .terminated, reason: "stopped")
    public static let disconnected = SessionEnding(status: .disconnected, reason: "disconnected")
    public static let logout = SessionEnding(status: .terminated, reason: "logout")
    public static let userDisabled = SessionEnding(status: .terminated, reason: "user_disabled")
    /// An administrator reset the account's password: whoever held it may be in a workspace.
    public static let passwordReset = SessionEnding(status: .terminated, reason: "password_reset")
    /// The account's password was changed: a session cannot tell which sign-in launched it, and
    /// one whoever knew the old password launched must not outlive the change.
    public static let passwordChanged = SessionEnding(status: .terminated, reason: "password_changed")
    public static let workspaceDeleted = SessionEnding(status: .terminated, reason: "workspace_deleted")
    public static let workspacesReset = SessionEnding(status: .terminated, reason: "workspaces_reset")
    /// Its workspace's maximum duration passed.
    public static let lifetimeReached = SessionEnding(status: .expired, reason: "max_duration")
    /// No heartbeat for longer than the idle timeout.
    public static let idleTimeout = SessionEnding(status: .disconnected, reason: "idle_timeout")
    /// Its demo session expired or was ended.
    public static let demoEnded = SessionEnding(status: .terminated, reason: "demo_ended")
    /// Its owner's role may no longer use its workspace: the owner's role changed, or the
    /// workspace's roles did.
    public static let accessRevoked = SessionEnding(status: .terminated, reason: "access_revoked")
}
