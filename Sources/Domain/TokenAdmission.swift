import Foundation

/// Whether a stored bearer token still stands for its account, and as whom: decided when a token
/// is first presented, and again whenever a cached one is read back from the store. A token stands
/// for nobody once it is revoked or expired, when its account is gone or disabled, or, for a
/// `demo-user`, when no demo grants that account access (`DemoAccess`).
public enum TokenAdmission {
    /// - Parameters:
    ///   - token: the stored token, if there is one.
    ///   - user: the token's account, if there is one.
    ///   - demo: the account's demo session; needed only for a `demo-user`.
    ///   - organization: the account's organisation, if it has one.
    public static func decide(
        token: AccessToken?, user: User?, demo: DemoSession?, organization: Organization?, at now: Date
    ) -> Result<Identity, DomainError> {
        guard let token, token.isValid(at: now) else { return .failure(.unauthenticated("Invalid or expired token")) }
        guard let user, user.id == token.userID, !user.disabled else { return .failure(.unauthenticated("Account is disabled")) }
        do throws(DomainError) {
            try DemoAccess.requireActive(role: user.role, demo: demo, at: now)
        } catch {
            return .failure(error)
        }
        let principal = Principal(
            userID: user.id, email: user.email, name: user.name, role: user.role, organizationID: user.organizationID,
            mfaVerified: token.mfaVerified, credentialDigest: token.digest, credentialExpiresAt: token.expiresAt,
            claims: token.claims)
        let organization = organization.flatMap { $0.id == user.organizationID ? $0 : nil }
        return .success(Identity(principal: principal, user: user, organization: organization))
    }
}
