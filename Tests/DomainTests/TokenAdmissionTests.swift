import Domain
import Foundation
import Testing

@Suite struct TokenAdmissionTests {
    let now = Date(timeIntervalSince1970: 4_119_200_000)
    let organization = Organization(id: "org-1", name: "Acme", domain: nil, createdAt: Date(timeIntervalSince1970: 0))

    func token(userID: String = "usr-1", expiresIn seconds: TimeInterval = 60, revoked: Bool = false) -> AccessToken {
        AccessToken(
            digest: "digest-1", userID: userID, issuedAt: now - 60, expiresAt: now + seconds, revokedAt: revoked ? now - 1 : nil,
            mfaVerified: true, claims: ["netbird"])
    }

    func user(role: Role = .neosc, disabled: Bool = false, organizationID: String? = "org-1") -> User {
        User(
            id: "usr-1", email: "ada@example.com", name: "Ada", organizationID: organizationID, role: role, passwordHash: nil,
            disabled: disabled, createdAt: now - 3_600, updatedAt: now - 3_600)
    }

    func demo(expiresIn seconds: TimeInterval, status: DemoSession.Status = .active) -> DemoSession {
        DemoSession(
            id: "demo-1", userID: "usr-1", workspaceID: "ws-secure-browser", workspaceType: "browser", contactEmail: nil,
            clientAddress: "192.0.2.1", status: status, createdAt: now - 60, expiresAt: now + seconds, maxExpiresAt: now + 3_600)
    }

    func decide(
        _ token: AccessToken?, _ user: User?, demo: DemoSession? = nil, organization: Organization? = nil
    ) -> Result<Identity, DomainError> {
        TokenAdmission.decide(token: token, user: user, demo: demo, organization: organization ?? self.organization, at: now)
    }

    @Test("a live token of an enabled account stands for it, as the token and the account say")
    func admitted() throws {
        let identity = try decide(token(), user()).get()
        #expect(identity.user == user())
        #expect(identity.organization == organization)
        let principal = identity.principal
        #expect(principal.userID == "usr-1" && principal.role == .neosc && principal.organizationID == "org-1")
        #expect(principal.mfaVerified && principal.claims == ["netbird"])
        #expect(principal.credentialDigest == "digest-1" && principal.credentialExpiresAt == now + 60)
        // An organisation that is not the account's is not attached to it.
        let other = Organization(id: "org-2", name: "Other", domain: nil, createdAt: now)
        #expect(try decide(token(), user(), organization: other).get().organization == nil)
    }

    @Test("no token, a revoked one, one expired at this instant: invalid")
    func invalidTokens() {
        let invalid = DomainError.unauthenticated("Invalid or expired token")
        #expect(decide(nil, user()) == .failure(invalid))
        #expect(decide(token(revoked: true), user()) == .failure(invalid))
        #expect(decide(token(expiresIn: 0), user()) == .failure(invalid))
        #expect(decide(token(expiresIn: 0.001), user()).isSuccess)
    }

    @Test("an account that is gone, disabled, or not the token's: refused")
    func refusedAccounts() {
        let disabled = DomainError.unauthenticated("Account is disabled")
        #expect(decide(token(), nil) == .failure(disabled))
        #expect(decide(token(), user(disabled: true)) == .failure(disabled))
        #expect(decide(token(userID: "usr-2"), user()) == .failure(disabled))
    }

    @Test("a demo visitor's token stands only while its demo grants access")
    func demoVisitors() {
        let visitor = user(role: .demoUser, organizationID: nil)
        #expect(decide(token(), visitor, demo: demo(expiresIn: 30)).isSuccess)
        #expect(decide(token(), visitor) == .failure(.unauthenticated("No demo session grants this account access")))
        #expect(decide(token(), visitor, demo: demo(expiresIn: 0)) == .failure(.unauthenticated("Demo session has expired")))
        #expect(
            decide(token(), visitor, demo: demo(expiresIn: 30, status: .expiring))
                == .failure(.unauthenticated("Demo session has expired")))
        // Other roles need no demo.
        #expect(decide(token(), user(role: .user)).isSuccess)
    }
}

extension Result {
    fileprivate var isSuccess: Bool {
        if case .success = self { true } else { false }
    }
}
