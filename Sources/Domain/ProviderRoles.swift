/// How an identity provider's role names become NeoSC roles. Only the exact names `admin`,
/// `neosc`, `user` and `demo-user` count (case-insensitively); anything else is ignored, so a
/// provider-side role named "administrators" grants nothing by accident.
public enum ProviderRoles {
    /// The Zitadel claim holding the roles granted on the project the token was issued for.
    public static let zitadelProjectRolesClaim = "urn:zitadel:iam:org:project:roles"

    /// The Zitadel claim holding the roles granted on one named project.
    public static func zitadelRolesClaim(projectID: String) -> String {
        "urn:zitadel:iam:org:project:\(projectID):roles"
    }

    /// The NeoSC roles among `names`.
    public static func roles(named names: some Sequence<String>) -> Set<Role> {
        Set(names.compactMap { Role(rawValue: $0.lowercased()) })
    }
}
