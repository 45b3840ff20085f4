import Domain

extension Portal {
    /// The demo a `demo-user` belongs to, if any (other roles have none).
    func demo(of principal: Principal) async throws -> DemoSession? {
        guard principal.role == .demoUser else { return nil }
        return try await store.demo(userID: principal.userID)
    }

    /// A demo user may use only its own demo's workspace, and only while the demo lasts; one
    /// with no demo at all may use none (`DemoAccess`). Other roles pass (nil).
    @discardableResult
    func requireDemoWorkspace(_ workspace: Workspace, for principal: Principal) async throws -> DemoSession? {
        guard principal.role == .demoUser else { return nil }
        let demo = try await demo(of: principal)
        let now = clock.now()
        // Refuses a demo user whose demo is over or who has none, so `demo` is there below.
        try DemoAccess.requireActive(role: principal.role, demo: demo, at: now)
        guard let demo else { return nil }
        try DemoAccess.requireWorkspace(workspace, of: demo, at: now)
        return demo
    }
}
