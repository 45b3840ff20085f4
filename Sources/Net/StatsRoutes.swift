import Domain
import Foundation
import Hummingbird
import Services

/// `/api/stats`: the dashboard's figures (`Statistics`), in the API's shape.
struct StatsRoutes {
    let statistics: Statistics

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
        let figures = try await statistics.figures(for: context.principal)
        return JSONBody(
            Stats(
                scope: figures.scope.rawValue, activeSessions: figures.activeSessions,
                totalWorkspaces: figures.totalWorkspaces, availableWorkspaces: figures.availableWorkspaces,
                totalUsers: figures.totalUsers, usersWithMFA: figures.usersWithMFA, mfaCoverage: figures.mfaCoverage,
                totalOrganizations: figures.totalOrganizations, policiesEnabled: figures.policiesEnabled,
                policiesTotal: figures.policiesTotal, securityScore: figures.securityScore, logins24h: figures.logins24h,
                failedLogins24h: figures.failedLogins24h))
    }
}
