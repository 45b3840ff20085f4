import Domain

extension Portal {
    /// The demo a `demo-user` belongs to, if any (other roles have none).
    func demo(of principal: Principal) async throws -> DemoSession? {
        guard principal.role == .demoUser else { return nil }
        return try await store.demo(userID: principal.userID)
    }

    /// A demo user may use only its own demo's workspace, and only while the demo lasts (`DemoAccess`).
    @discardableResult
    func requireDemoWorkspace(_ workspace: Workspace, for principal: Principal) async throws -> DemoSession? {
        guard let demo = try await demo(of: principal) else { return nil }
        try DemoAccess.requireWorkspace(workspace, of: demo, at: clock.now())
        return demo
    }
}
