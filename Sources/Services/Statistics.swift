import Domain
import Foundation

/// The dashboard's figures, all computed from the store. Administrators see the whole system;
/// everyone else their own organisation, or just themselves when they belong to none.
public struct Statistics: Sendable {
    private let store: any Store
    private let clock: WallClock
    private let currentPolicies: @Sendable () async throws -> [Policy]
    private let catalogue: @Sendable (Role) async throws -> WorkspaceTally
    private let sessionCount: @Sendable (String?) async throws -> Int

    /// - Parameters:
    ///   - policies: the policies as requests are checked against them (`Policies.current`).
    ///   - catalogue: a role's tally of the workspaces as the catalogue serves them (cached, as the
    ///     list route's, and counted once per load of it: `WorkspaceTally.byRole`).
    ///   - activeSessions: a user's active sessions, or everyone's for nil, as the session
    ///     registry counts them (`WorkspaceSessions.activeCount`): no store read per view.
    public init(
        store: any Store, clock: WallClock, policies: @escaping @Sendable () async throws -> [Policy],
        catalogue: @escaping @Sendable (Role) async throws -> WorkspaceTally,
        activeSessions: @escaping @Sendable (String?) async throws -> Int
    ) {
        self.store = store
        self.clock = clock
        self.currentPolicies = policies
        self.catalogue = catalogue
        sessionCount = activeSessions
    }

    /// How many workspaces a role sees, and how many of those are available.
    public struct WorkspaceTally: Sendable, Equatable {
        public var visible = 0
        public var available = 0

        public init(visible: Int = 0, available: Int = 0) {
            self.visible = visible
            self.available = available
        }

        /// Every role's tally of `workspaces`. Counted once per load of the catalogue: counting
        /// per dashboard view copied every workspace (each field retained and released, even
        /// by index), a twentieth of a view.
        public static func byRole(_ workspaces: [Workspace]) -> [Role: WorkspaceTally] {
            var tallies: [Role: WorkspaceTally] = [:]
            for role in Role.allCases {
                var tally = WorkspaceTally()
                for workspace in workspaces where workspace.isVisible(to: role) {
                    tally.visible += 1
                    if workspace.status == .available { tally.available += 1 }
                }
                tallies[role] = tally
            }
            return tallies
        }
    }

    public struct Figures: Sendable, Equatable {
        public enum Scope: String, Sendable { case system, organization, user }
        public var scope: Scope
        public var activeSessions: Int
        public var totalWorkspaces: Int
        public var availableWorkspaces: Int
        public var totalUsers: Int
        public var usersWithMFA: Int
        public var totalOrganizations: Int
        public var policiesEnabled: Int
        public var policiesTotal: Int
        public var securityScore: Int
        public var logins24h: Int
        public var failedLogins24h: Int

        /// The share of users with MFA, 0 when there are none.
        public var mfaCoverage: Double { totalUsers > 0 ? Double(usersWithMFA) / Double(totalUsers) : 0 }
    }

    /// - Parameters:
    ///   - account: the caller's account as the request already read it (its identity), so the
    ///     figures of a caller without an organisation need no read of it.
    public func figures(for principal: Principal, account: User? = nil) async throws -> Figures {
        try await overview(for: principal, account: account).figures
    }

    /// The caller's figures and, when `recent` is given, the newest audit entries it selects (the
    /// dashboard's list): the store's part read in one go (`Store.overview`).
    /// - Parameters:
    ///   - account: as for `figures`.
    public func overview(
        for principal: Principal, account: User? = nil, recent: AuditQuery? = nil
    ) async throws -> (figures: Figures, recent: [AuditEvent]) {
        let dayAgo = clock.now().addingTimeInterval(-86_400)
        let policies = try await currentPolicies()
        // A demo visitor sees its demo's workspace only, as the catalogue lists it for them.
        let workspaces = principal.role == .demoUser ? try await demoTally(principal) : try await catalogue(principal.role)
        // Sign-ins of every kind: password logins and provider sign-ins (token exchange, ID
        // token, browser flow, a new Pomerium session), in one count.
        let signIns: [AuditAction] = [.login, .ssoLogin]

        var query = OverviewQuery(recent: recent)
        let scope: Figures.Scope
        let activeSessions: Int
        if principal.isAdmin {
            scope = .system
            query.counts = [.init(signIns, since: dayAgo, scope: .everyone), .init([.loginFailed], since: dayAgo, scope: .everyone)]
            query.users = .everyone
            query.countsOrganizations = true
            activeSessions = try await sessionCount(nil)
        } else if let organizationID = principal.organizationID {
            scope = .organization
            // Failed logins carry no user id to tie them to an organisation reliably; not shown outside admin.
            query.counts = [.init(signIns, since: dayAgo, scope: .organization(organizationID))]
            query.users = .organization(organizationID)
            activeSessions = try await store.activeCount(organizationID: organizationID)
        } else {
            scope = .user
            query.counts = [.init(signIns, since: dayAgo, scope: .user(principal.userID))]
            activeSessions = try await sessionCount(principal.userID)
        }
        let read = try await store.overview(query)

        var users = (total: read.activeUsers, withMFA: read.activeUsersWithMFA)
        if scope == .user {
            let me = account?.id == principal.userID ? account : try await store.user(id: principal.userID)
            users = (1, me?.mfaEnabled == true ? 1 : 0)
        }
        let organizations =
            switch scope {
            case .system: read.organizations
            case .organization: 1
            case .user: 0
            }
        let figures = Figures(
            scope: scope, activeSessions: activeSessions, totalWorkspaces: workspaces.visible,
            availableWorkspaces: workspaces.available, totalUsers: users.total,
            usersWithMFA: users.withMFA, totalOrganizations: organizations, policiesEnabled: policies.filter(\.enabled).count,
            policiesTotal: policies.count,
            securityScore: SecurityScore.compute(policies: policies, activeUsers: users.total, usersWithMFA: users.withMFA),
            logins24h: read.counts[0], failedLogins24h: scope == .system ? read.counts[1] : 0)
        return (figures, read.recent)
    }

    /// The tally of a demo visitor: its demo's workspace, when it has a demo and the workspace is
    /// still there and shown to it (`DemoAccess.shows`); nothing otherwise.
    private func demoTally(_ principal: Principal) async throws -> WorkspaceTally {
        let demo = try await store.demo(userID: principal.userID)
        guard let demo, let workspace = try await store.workspace(id: demo.workspaceID), DemoAccess.shows(workspace, to: demo)
        else { return WorkspaceTally() }
        return WorkspaceTally(visible: 1, available: workspace.status == .available ? 1 : 0)
    }
}
