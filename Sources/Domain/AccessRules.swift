/// Who may do what. Pure decisions on the principal and the resource; routes call these and nothing else decides.
public enum AccessRules {
    /// Administration of workspaces, users, policies and organisations is the admin role's alone.
    public static func requireAdmin(_ principal: Principal, to action: String) throws(DomainError) {
        guard principal.role == .admin else {
            throw .forbidden("Only administrators may \(action)")
        }
    }

    /// Reading a workspace's details requires that the caller's role may see it.
    public static func requireVisible(_ workspace: Workspace, to principal: Principal) throws(DomainError) {
        guard workspace.isVisible(to: principal.role) else {
            throw .forbidden("Your role may not use this workspace")
        }
    }

    /// A launch is allowed when the role may use the workspace and the workspace is available.
    /// The per-user session limit is the store's to enforce, atomically with the insert
    /// (`requireBelowSessionLimit`), because only the store sees every replica's sessions.
    public static func requireLaunchable(_ workspace: Workspace, by principal: Principal) throws(DomainError) {
        try requireVisible(workspace, to: principal)
        switch workspace.status {
        case .available:
            break
        case .maintenance:
            throw .conflict("Workspace is under maintenance")
        case .comingSoon:
            throw .conflict("Workspace is not available yet")
        }
    }

    /// Whether `session` must end because its owner may no longer use its workspace: the
    /// workspace is gone, or no longer admits `ownerRole` (nil: the owner has no account). A
    /// change of role or of a workspace's roles takes effect on sessions already running, not
    /// only on the next launch.
    public static func outlivesAccess(_ session: WorkspaceSession, workspace: Workspace?, ownerRole: Role?) -> Bool {
        guard session.status == .active else { return false }
        guard let workspace, let ownerRole else { return true }
        return !workspace.isVisible(to: ownerRole)
    }

    public static func requireBelowSessionLimit(activeSessions: Int, limit: Int) throws(DomainError) {
        guard activeSessions < limit else { throw .sessionLimitReached(limit) }
    }

    /// Sessions are their owner's; administrators may act on any.
    public static func requireOwnerOrAdmin(of session: WorkspaceSession, _ principal: Principal) throws(DomainError) {
        guard principal.role == .admin || session.userID == principal.userID else {
            // Not 403: a session id of someone else's is not confirmed to exist.
            throw .notFound("Session not found")
        }
    }

    /// `demo-user` is a demo visitor's role, given with the demo that its access depends on (by
    /// starting a demo, or by an identity provider's assertion bound to one), never by a change
    /// to an account: given by an administrator it would come without a demo, so that the
    /// account could not sign in while its sessions on workspaces open to demos outlived any demo.
    public static func requireAssignable(_ role: Role) throws(DomainError) {
        guard role != .demoUser else {
            throw .invalid("The role 'demo-user' comes with a demo and cannot be given to an account")
        }
    }

    /// The role an administrator may give an account that has `current`: an assignable one
    /// (else 422), and none to a demo visitor's account, whose access ends with its demo (another
    /// role would outlive it: a standing account behind a demo's anonymous token; 409, the
    /// account's state refusing a request that is itself well formed).
    public static func requireRoleChange(from current: Role, to role: Role) throws(DomainError) {
        try requireAssignable(role)
        guard current != .demoUser else {
            throw .conflict("A demo visitor's account keeps the role 'demo-user': its access ends with its demo")
        }
    }

    /// An administrator may not take away the last remaining active administrator.
    public static func requireAdminRemains(
        changing user: User, toRole role: Role, disabled: Bool, activeAdmins: Int
    ) throws(DomainError) {
        let removesAdmin = user.role == .admin && !user.disabled && (role != .admin || disabled)
        if removesAdmin && activeAdmins <= 1 {
            throw .lastAdministrator
        }
    }
}
