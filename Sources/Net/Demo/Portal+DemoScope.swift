import Domain

extension Portal {
    /// The demo a `demo-user` belongs to, if any (other roles have none).
    func demo(of principal: Principal) async throws -> DemoSession? {
        guard principal.role == .demoUser else { return nil }
        return try await store.demo(userID: principal.userID)
    }

    /// A demo user may use only its own demo's workspace, and only while the demo lasts.
    @discardableResult
    func requireDemoWorkspace(_ workspace: Workspace, for principal: Principal) async throws -> DemoSession? {
        guard let demo = try await demo(of: principal) else { return nil }
        guard demo.workspaceID == workspace.id else {
            throw DomainError.forbidden("A demo session may use only its own workspace")
        }
        guard demo.grantsAccess(at: clock.now()) else { throw DomainError.unauthenticated("Demo session has expired") }
        return demo
    }
}
