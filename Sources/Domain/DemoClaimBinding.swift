import Foundation

/// Whether a token an identity provider is issuing may carry a demo's claims, binding whoever
/// holds it to that demo. The demo form takes any address, so an address alone proves nothing:
/// the account must have been created for the demo (after it started) with that address
/// verified, and must hold no other role, so that nobody's existing account, least of all an
/// administrator's, can be turned into a demo visitor by someone typing its address.
public enum DemoClaimBinding {
    /// Clock skew allowed between NeoSC and the provider when comparing creation times.
    public static let skew: TimeInterval = 60

    public static func allows(
        _ demo: DemoSession, accountCreatedAt: Date?, emailVerified: Bool, grantedRoles: Set<Role>, now: Date
    ) -> Bool {
        guard demo.status == .active, demo.expiresAt > now, emailVerified else { return false }
        guard grantedRoles.subtracting([.demoUser]).isEmpty else { return false }
        guard let accountCreatedAt else { return false }
        return accountCreatedAt >= demo.createdAt.addingTimeInterval(-skew)
    }
}
