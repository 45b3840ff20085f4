import Domain
import Foundation
import Hummingbird

/// `/api/stats`: dashboard figures, all computed. Administrators get the whole system; everyone
/// else their own organisation (or just themselves when they belong to none).
struct StatsRoutes {
    let portal: Portal

    struct Stats: Encodable, Sendable {
        var scope: String
        var activeSessions: Int
        var totalWorkspaces: Int
        var availableWorkspaces: Int
        var totalUsers: Int
        var usersWithMFA: Int
        var mfaCoverage: Double
        var totalOrganizations: Int
        var policiesEnabled: Int
        var policiesTotal: Int
        var securityScore: Int
        var logins24h: Int
        var failedLogins24h: Int

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

    func register(on group: RouterGroup<SignedInContext>) {
        group.get(use: show)
    }

    @Sendable func show(_ request: Request, context: SignedInContext) async throws -> JSONBody<Stats> {
        let principal = context.principal
        let store = portal.store
        let dayAgo = portal.clock.now().addingTimeInterval(-86_400)
        let policies = try await store.policies()
        let workspaces = try await store.workspaces().filter { $0.isVisible(to: principal.role) }

        let scope: String
        let users: (total: Int, withMFA: Int)
        let activeSessions: Int
        let organizations: Int
        let logins: Int
        let failedLogins: Int
        if principal.isAdmin {
            scope = "system"
            users = try await store.activeUserCounts(organizationID: nil)
            activeSessions = try await store.activeCount(organizationID: nil)
            organizations = try await store.organizations().count
            logins = try await store.count(action: .login, since: dayAgo, scope: .everyone)
            failedLogins = try await store.count(action: .loginFailed, since: dayAgo, scope: .everyone)
        } else if let organizationID = principal.organizationID {
            scope = "organization"
            users = try await store.activeUserCounts(organizationID: organizationID)
            activeSessions = try await store.activeCount(organizationID: organizationID)
            organizations = 1
            logins = try await store.count(action: .login, since: dayAgo, scope: .organization(organizationID))
            // Failed logins carry no user id to tie them to an organisation reliably; not shown outside admin.
            failedLogins = 0
        } else {
            scope = "user"
            let me = try await store.user(id: principal.userID)
            users = (1, me?.mfaEnabled == true ? 1 : 0)
            activeSessions = try await store.activeCount(userID: principal.userID)
            organizations = 0
            logins = try await store.count(action: .login, since: dayAgo, scope: .user(principal.userID))
            failedLogins = 0
        }
        return JSONBody(
            Stats(
                scope: scope, activeSessions: activeSessions, totalWorkspaces: workspaces.count,
                availableWorkspaces: workspaces.filter { $0.status == .available }.count, totalUsers: users.total,
                usersWithMFA: users.withMFA,
                mfaCoverage: users.total > 0 ? Double(users.withMFA) / Double(users.total) : 0,
                totalOrganizations: organizations, policiesEnabled: policies.filter(\.enabled).count,
                policiesTotal: policies.count,
                securityScore: SecurityScore.compute(
                    policies: policies, activeUsers: users.total, usersWithMFA: users.withMFA),
                logins24h: logins, failedLogins24h: failedLogins))
    }
}
