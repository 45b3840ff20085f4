import Foundation
import HTTPTypes
import Testing

// The API's response bodies as a client reads them, written out from docs/api.md rather than
// borrowed from the server's types: a renamed, retyped or missing field fails the decoding (and
// the test), where `[String: Any]` lookups would quietly answer nil. Optional fields are the ones
// the docs allow to be null or absent.

/// `{"detail": …}`: every error.
struct ErrorBody: Decodable {
    let detail: String
}

struct UserBody: Decodable {
    let id: String
    let email: String
    let name: String
    let organization: String?
    let organizationID: String?
    let role: String
    let mfaEnabled: Bool
    let disabled: Bool
    let mustChangePassword: Bool
    let createdAt: Date

    enum CodingKeys: String, CodingKey {
        case id, email, name, organization, role, disabled
        case organizationID = "organization_id"
        case mfaEnabled = "mfa_enabled"
        case mustChangePassword = "must_change_password"
        case createdAt = "created_at"
    }
}

/// Registration, login and every sign-in through a provider.
struct SignedInBody: Decodable {
    let accessToken: String
    let tokenType: String
    let expiresAt: Date
    let user: UserBody

    enum CodingKeys: String, CodingKey {
        case user
        case accessToken = "access_token"
        case tokenType = "token_type"
        case expiresAt = "expires_at"
    }
}

struct SignedOutBody: Decodable {
    let message: String
    let sessionsTerminated: Int

    enum CodingKeys: String, CodingKey {
        case message
        case sessionsTerminated = "sessions_terminated"
    }
}

struct WorkspaceBody: Decodable {
    let id: String
    let name: String
    let type: String
    let description: String?
    let status: String
    let cpu: Int
    let memory: Int
    let storage: Int
    let url: String
    let launchMode: String
    let clientless: Bool
    let requiresNetbird: Bool
    let allowedRoles: [String]
    let maxSessionMinutes: Int
    /// Always present; null when the workspace has no stream through NeoSC.
    let streamUpstream: String?
    /// Present in the catalogue's list and a single workspace's view.
    let activeSessions: Int?

    enum CodingKeys: String, CodingKey {
        case id, name, type, description, status, cpu, memory, storage, url, clientless
        case launchMode = "launch_mode"
        case requiresNetbird = "requires_netbird"
        case allowedRoles = "allowed_roles"
        case maxSessionMinutes = "max_session_minutes"
        case streamUpstream = "stream_upstream"
        case activeSessions = "active_sessions"
    }
}

struct SessionBody: Decodable {
    let id: String
    let userID: String
    let userEmail: String
    let workspaceID: String
    let workspaceName: String
    let status: String
    let startedAt: Date
    let endedAt: Date?
    let expiresAt: Date?
    let lastSeenAt: Date
    let ipAddress: String
    let mfaVerified: Bool
    let endReason: String?

    enum CodingKeys: String, CodingKey {
        case id, status
        case userID = "user_id"
        case userEmail = "user_email"
        case workspaceID = "workspace_id"
        case workspaceName = "workspace_name"
        case startedAt = "started_at"
        case endedAt = "ended_at"
        case expiresAt = "expires_at"
        case lastSeenAt = "last_seen_at"
        case ipAddress = "ip_address"
        case mfaVerified = "mfa_verified"
        case endReason = "end_reason"
    }
}

struct LaunchBody: Decodable {
    let sessionID: String
    let session: SessionBody
    let workspace: WorkspaceBody
    let connectionURL: String
    let launchMode: String
    let streamURL: String?
    let expiresAt: Date?

    enum CodingKeys: String, CodingKey {
        case session, workspace
        case sessionID = "session_id"
        case connectionURL = "connection_url"
        case launchMode = "launch_mode"
        case streamURL = "stream_url"
        case expiresAt = "expires_at"
    }
}

struct StoppedBody: Decodable {
    let message: String
    let session: SessionBody
}

struct ResetBody: Decodable {
    let message: String
    let workspaces: Int
    let sessionsTerminated: Int

    enum CodingKeys: String, CodingKey {
        case message, workspaces
        case sessionsTerminated = "sessions_terminated"
    }
}

struct DemoBody: Decodable {
    let id: String
    let userID: String
    let workspaceID: String
    let workspaceType: String
    let contactEmail: String?
    let clientAddress: String
    let status: String
    let createdAt: Date
    let expiresAt: Date
    let maxExpiresAt: Date
    let endedAt: Date?
    let connectionURL: String?
    let completedSteps: [String]

    enum CodingKeys: String, CodingKey {
        case id, status
        case userID = "user_id"
        case workspaceID = "workspace_id"
        case workspaceType = "workspace_type"
        case contactEmail = "contact_email"
        case clientAddress = "client_address"
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case maxExpiresAt = "max_expires_at"
        case endedAt = "ended_at"
        case connectionURL = "connection_url"
        case completedSteps = "completed_steps"
    }
}

struct DemoCreatedBody: Decodable {
    let demoSessionID: String
    let expiresAt: Date
    let accessToken: String
    let tokenType: String
    let workspace: WorkspaceBody
    let connectionURL: String?

    enum CodingKeys: String, CodingKey {
        case workspace
        case demoSessionID = "demo_session_id"
        case expiresAt = "expires_at"
        case accessToken = "access_token"
        case tokenType = "token_type"
        case connectionURL = "connection_url"
    }
}

struct AuditEntryBody: Decodable {
    let id: String
    let timestamp: Date
    let userID: String?
    let userEmail: String?
    let action: String
    let resourceType: String?
    let resourceID: String?
    /// `"<type>:<id>"`.
    let resource: String?
    let details: [String: String]
    let ipAddress: String?
    let success: Bool
    /// The entry's place in the audit chain.
    let seq: Int64
    let prevHash: String
    let hash: String

    enum CodingKeys: String, CodingKey {
        case id, timestamp, action, details, success, resource, seq, hash
        case prevHash = "prev_hash"
        case userID = "user_id"
        case userEmail = "user_email"
        case resourceType = "resource_type"
        case resourceID = "resource_id"
        case ipAddress = "ip_address"
    }
}

struct StatsBody: Decodable {
    let scope: String
    let activeSessions: Int
    let totalWorkspaces: Int
    let availableWorkspaces: Int
    let totalUsers: Int
    let usersWithMFA: Int
    let mfaCoverage: Double
    let totalOrganizations: Int
    let policiesEnabled: Int
    let policiesTotal: Int
    let securityScore: Int
    let logins24h: Int
    let failedLogins24h: Int

    enum CodingKeys: String, CodingKey {
        case scope
        case activeSessions = "active_sessions"
        case totalWorkspaces = "total_workspaces"
        case availableWorkspaces = "available_workspaces"
        case totalUsers = "total_users"
        case usersWithMFA = "users_with_mfa"
        case mfaCoverage = "mfa_coverage"
        case totalOrganizations = "total_organizations"
        case policiesEnabled = "policies_enabled"
        case policiesTotal = "policies_total"
        case securityScore = "security_score"
        case logins24h = "logins_24h"
        case failedLogins24h = "failed_logins_24h"
    }
}

struct PolicyBody: Decodable {
    let id: String
    let name: String
    let description: String
    let category: String
    let enabled: Bool
    let weight: Int
}

struct OrganizationBody: Decodable {
    let id: String
    let name: String
    let domain: String?
    let createdAt: Date

    enum CodingKeys: String, CodingKey {
        case id, name, domain
        case createdAt = "created_at"
    }
}

struct HealthBody: Decodable {
    let status: String
    let detail: String?
}

struct AboutBody: Decodable {
    let message: String
    let version: String
}

extension Reply {
    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    /// The body decoded as `type`. A body that is not one (an error, a field missing or of
    /// another type) is recorded as a failure of the calling test, with the status and body, and
    /// thrown.
    func decoded<Body: Decodable>(_ type: Body.Type, sourceLocation: SourceLocation = #_sourceLocation) throws -> Body {
        do {
            return try Self.decoder.decode(Body.self, from: Data(text.utf8))
        } catch {
            Issue.record("expected \(Body.self), got \(status.code): \(text.prefix(300)) (\(error))", sourceLocation: sourceLocation)
            throw error
        }
    }
}
