import Foundation

/// What a `demo-user` account may reach. Its access exists only through its demo: while the demo
/// grants access, and only to the demo's workspace. An account with that role and no demo at all
/// (made by hand, or left after its demo's record was removed) reaches nothing. Other roles are
/// not concerned.
public enum DemoAccess {
    /// Refuses a `demo-user` whose demo does not grant access at `now`, or who has none.
    public static func requireActive(role: Role, demo: DemoSession?, at now: Date) throws(DomainError) {
        guard role == .demoUser else { return }
        guard let demo else { throw .unauthenticated("No demo session grants this account access") }
        guard demo.grantsAccess(at: now) else { throw .unauthenticated("Demo session has expired") }
    }

    /// Whether a demo's visitor sees `workspace` in its lists and figures: the demo's own, while the
    /// workspace still admits `demo-user` (an administrator may take the role away: the list then
    /// shows what a launch would refuse). The one rule for the API's list, the portal's and the
    /// visitor's figures.
    public static func shows(_ workspace: Workspace, to demo: DemoSession?) -> Bool {
        demo?.workspaceID == workspace.id && workspace.isVisible(to: .demoUser)
    }

    /// Refuses a demo's visitor any workspace but the demo's own, and any after the demo ended.
    public static func requireWorkspace(_ workspace: Workspace, of demo: DemoSession, at now: Date) throws(DomainError) {
        guard demo.workspaceID == workspace.id else {
            throw .forbidden("A demo session may use only its own workspace")
        }
        guard demo.grantsAccess(at: now) else { throw .unauthenticated("Demo session has expired") }
    }
}
