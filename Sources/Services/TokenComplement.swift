import Domain
import Foundation

/// What NeoSC adds to the tokens Zitadel issues, as the target of a Zitadel Actions v2 function
/// (`preuserinfo`, `preaccesstoken`): the person's NeoSC roles as one flat `groups` claim (what
/// Pomerium's policies can match and forwards), and, for the contact of an active demo, the
/// `neosc:demo_*` claims that bind the token to that demo, with the `demo-user` group. Without
/// it a Zitadel user never holds a demo: Zitadel knows nothing of NeoSC's demos.
public struct TokenComplement: Sendable {
    /// Who Zitadel is issuing a token for, as its call describes them.
    public struct Person: Sendable, Equatable {
        public var email: String?
        public var emailVerified: Bool
        /// Role keys of the person's grants on NeoSC's project.
        public var grantedRoles: [String]
        /// When the provider created the account (nil when it did not say).
        public var createdAt: Date?

        public init(email: String?, emailVerified: Bool, grantedRoles: [String], createdAt: Date?) {
            self.email = email
            self.emailVerified = emailVerified
            self.grantedRoles = grantedRoles
            self.createdAt = createdAt
        }
    }

    public enum Value: Sendable, Equatable {
        case string(String)
        case strings([String])
        case number(Double)
    }

    public struct Claim: Sendable, Equatable {
        public var key: String
        public var value: Value
    }

    private let store: any Store
    private let clock: WallClock

    public init(store: any Store, clock: WallClock) {
        self.store = store
        self.clock = clock
    }

    /// The claims to append for `person`. A demo is bound only as `DemoClaimBinding` allows: to
    /// an account made for it, with the address verified and no other role.
    public func claims(for person: Person) async throws -> [Claim] {
        var groups = ProviderRoles.roles(named: person.grantedRoles)
        var claims: [Claim] = []
        if person.emailVerified, let raw = person.email, let email = try? Validation.normalisedEmail(raw),
            let demo = try await store.activeDemo(contactEmail: email),
            DemoClaimBinding.allows(
                demo, accountCreatedAt: person.createdAt, emailVerified: person.emailVerified, grantedRoles: groups,
                now: clock.now())
        {
            groups.insert(.demoUser)
            claims += [
                Claim(key: "neosc:demo_session_id", value: .string(demo.id)),
                // A string: Pomerium forwards numbers as Go's `fmt.Sprint` of a float.
                Claim(key: "neosc:demo_expires_at", value: .string(demo.expiresAt.formatted(.iso8601))),
                Claim(key: "neosc:workspace_type", value: .string(demo.workspaceType)),
                Claim(key: "neosc:max_duration", value: .string("\(Int(demo.maxExpiresAt.timeIntervalSince(demo.createdAt)))s")),
            ]
        }
        return [Claim(key: "groups", value: .strings(groups.map(\.rawValue).sorted()))] + claims
    }
}
