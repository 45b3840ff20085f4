/// What a principal is allowed to be. The raw values are the wire and storage names.
public enum Role: String, Sendable, Codable, CaseIterable, Comparable {
    /// Everything, including other users, workspaces and policies.
    case admin
    /// Launches workspaces and owns its sessions.
    case neosc
    /// Read-mostly access to the workspaces it is allowed.
    case user
    /// A short-lived visitor limited to its one demo workspace.
    case demoUser = "demo-user"

    /// Higher is more privileged. An identity provider that grants several roles signs its user in
    /// with the most privileged one (`ExternalIdentity.role`).
    private var rank: Int {
        switch self {
        case .demoUser: 0
        case .user: 1
        case .neosc: 2
        case .admin: 3
        }
    }

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }
}
