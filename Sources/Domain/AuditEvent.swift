import Foundation

/// The name of something that happened. Open set: later features add their own actions.
public struct AuditAction: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// Whether `text` can name an action, as a filter asks for one: 1 to 64 lower-case ASCII
    /// letters and underscores (`launch_workspace`). What a filter names is written into the
    /// export's own entry: no line break or control character may ride along.
    public static func isWellFormed(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count) && text.utf8.allSatisfy { ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || $0 == UInt8(ascii: "_") }
    }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public static let register = AuditAction("register")
    public static let login = AuditAction("login")
    public static let loginFailed = AuditAction("login_failed")
    public static let logout = AuditAction("logout")
    public static let createWorkspace = AuditAction("create_workspace")
    public static let updateWorkspace = AuditAction("update_workspace")
    public static let deleteWorkspace = AuditAction("delete_workspace")
    public static let resetWorkspaces = AuditAction("reset_workspaces")
    public static let launchWorkspace = AuditAction("launch_workspace")
    public static let stopWorkspace = AuditAction("stop_workspace")
    public static let disconnectSession = AuditAction("disconnect_session")
    public static let togglePolicy = AuditAction("toggle_policy")
    public static let updateUser = AuditAction("update_user")
    public static let createOrganization = AuditAction("create_organization")
    public static let createAdmin = AuditAction("create_admin")
    public static let passwordChanged = AuditAction("password_changed")
    public static let passwordReset = AuditAction("password_reset")
    public static let clearLoginThrottle = AuditAction("clear_login_throttle")
    public static let accessDenied = AuditAction("access_denied")
    public static let ssoLogin = AuditAction("sso_login")
    public static let ssoLoginFailed = AuditAction("sso_login_failed")
    public static let ssoUserProvisioned = AuditAction("sso_user_provisioned")
    public static let ssoAccountLinked = AuditAction("sso_account_linked")
    /// The provider granted a linked account no NeoSC role: its sessions ended, its tokens revoked.
    public static let ssoAccessWithdrawn = AuditAction("sso_access_withdrawn")
    public static let pomeriumAssertionRejected = AuditAction("pomerium_assertion_rejected")
    public static let pomeriumHeaderSpoof = AuditAction("pomerium_header_spoof")
    public static let demoSessionCreated = AuditAction("demo_session_created")
    public static let demoSessionExtended = AuditAction("demo_session_extended")
    public static let demoSessionExpired = AuditAction("demo_session_expired")
    public static let demoSessionEnded = AuditAction("demo_session_ended")
    public static let demoCleanupStep = AuditAction("demo_cleanup_step")
    public static let sessionExpired = AuditAction("session_expired")
    public static let sessionIdleTimeout = AuditAction("session_idle_timeout")
    public static let auditExported = AuditAction("audit_exported")
    public static let auditVerified = AuditAction("audit_verified")
    public static let auditRetentionApplied = AuditAction("audit_retention_applied")
    public static let changeUndone = AuditAction("change_undone")
    public static let mfaEnrollmentStarted = AuditAction("mfa_enrollment_started")
    /// A password proved for an account with a second factor: the sign-in's second step is open.
    public static let mfaChallenged = AuditAction("mfa_challenged")
    public static let mfaEnrolled = AuditAction("mfa_enrolled")
    public static let mfaVerified = AuditAction("mfa_verified")
    public static let mfaFailed = AuditAction("mfa_failed")
    public static let mfaReset = AuditAction("mfa_reset")
    public static let recoveryCodeUsed = AuditAction("recovery_code_used")
    public static let createPolicy = AuditAction("create_policy")
    public static let updatePolicy = AuditAction("update_policy")
    public static let deletePolicy = AuditAction("delete_policy")
    public static let policyDenied = AuditAction("policy_denied")
    public static let netbirdPeerRegistered = AuditAction("netbird_peer_registered")
    public static let netbirdPeerRemoved = AuditAction("netbird_peer_removed")
    /// A workspace stream opened through NeoSC, or (failed) was refused before or while dialling.
    public static let streamOpened = AuditAction("stream_opened")
    /// A workspace stream closed: why, and the bytes each way.
    public static let streamClosed = AuditAction("stream_closed")
    public static let recordingStarted = AuditAction("recording_started")
    public static let recordingFinished = AuditAction("recording_finished")
    public static let recordingDownloaded = AuditAction("recording_downloaded")
    public static let recordingDeleted = AuditAction("recording_deleted")
}

/// One entry of the audit trail. Append-only.
public struct AuditEvent: Sendable, Equatable, Codable {
    public var id: String
    public var timestamp: Date
    public var userID: String?
    public var userEmail: String?
    public var action: AuditAction
    public var resourceType: String?
    public var resourceID: String?
    public var details: [String: String]
    public var ipAddress: String?
    public var success: Bool
    /// Its place in the audit chain; nil until the store appends it.
    public var seal: AuditSeal?

    public init(
        id: String = Identifier.make("aud"), timestamp: Date, userID: String?, userEmail: String?,
        action: AuditAction, resourceType: String? = nil, resourceID: String? = nil,
        details: [String: String] = [:], ipAddress: String?, success: Bool, seal: AuditSeal? = nil
    ) {
        self.id = id
        self.timestamp = timestamp
        self.userID = userID
        self.userEmail = userEmail
        self.action = action
        self.resourceType = resourceType
        self.resourceID = resourceID
        self.details = details
        self.ipAddress = ipAddress
        self.success = success
        self.seal = seal
    }

    /// `"<type>:<id>"` (just the type when there is no id), as clients of the system NeoSC
    /// replaces read it; beside `resource_type` and `resource_id` on the wire.
    public var resource: String? {
        resourceType.map { type in resourceID.map { "\(type):\($0)" } ?? type }
    }

    private enum WireKeys: String, CodingKey { case resource, seq, prevHash, hash }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(timestamp, forKey: .timestamp)
        try container.encodeIfPresent(userID, forKey: .userID)
        try container.encodeIfPresent(userEmail, forKey: .userEmail)
        try container.encode(action, forKey: .action)
        try container.encodeIfPresent(resourceType, forKey: .resourceType)
        try container.encodeIfPresent(resourceID, forKey: .resourceID)
        try container.encode(details, forKey: .details)
        try container.encodeIfPresent(ipAddress, forKey: .ipAddress)
        try container.encode(success, forKey: .success)
        var wire = encoder.container(keyedBy: WireKeys.self)
        try wire.encodeIfPresent(resource, forKey: .resource)
        if let seal {
            try wire.encode(seal.seq, forKey: .seq)
            try wire.encode(Hex.encode(seal.prevHash), forKey: .prevHash)
            try wire.encode(Hex.encode(seal.hash), forKey: .hash)
        }
    }
}

/// Whose audit entries a count covers.
/// One entry of the trail reduced to what was done and when.
public struct AuditOccurrence: Sendable, Equatable {
    public var action: AuditAction
    public var at: Date

    public init(action: AuditAction, at: Date) {
        self.action = action
        self.at = at
    }
}

public enum AuditScope: Sendable, Hashable {
    case everyone
    /// Entries of the organisation's users.
    case organization(String)
    case user(String)
}

/// Which audit entries to read: every filter is optional; newest first.
public struct AuditQuery: Sendable, Hashable {
    public static let maximumLimit = 500

    public var action: AuditAction?
    public var userID: String?
    public var success: Bool?
    public var since: Date?
    public var until: Date?
    /// Only entries after the one with this id in the trail's order (older, or as old and
    /// written before it): the cursor for the next page. An id that is not in the trail gives none.
    public var before: String?
    public var limit: Int

    public init(
        action: AuditAction? = nil, userID: String? = nil, success: Bool? = nil,
        since: Date? = nil, until: Date? = nil, before: String? = nil, limit: Int = 100
    ) {
        self.action = action
        self.userID = userID
        self.success = success
        self.since = since
        self.until = until
        self.before = before
        self.limit = limit
    }
}
