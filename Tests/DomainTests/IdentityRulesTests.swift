import Domain
import Foundation
import Testing

@Suite struct ClaimRulesTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let rules = ClaimRules(issuers: ["https://id.example.com"], audiences: ["neosc"], leeway: 60, maxLifetime: 3_600)

    func claims(
        issuer: String? = "https://id.example.com", audiences: [String] = ["neosc"], expiresIn: TimeInterval = 300,
        issuedAgo: TimeInterval = 0, notBeforeIn: TimeInterval? = nil, subject: String? = "u-1", nonce: String? = "n-1"
    ) -> SignedClaims {
        SignedClaims(
            issuer: issuer, subject: subject, audiences: audiences, expiresAt: now + expiresIn,
            issuedAt: now - issuedAgo, notBefore: notBeforeIn.map { now + $0 }, nonce: nonce)
    }

    func rejection(_ claims: SignedClaims, nonce: String? = nil) -> TokenRejection? {
        do {
            try rules.check(claims, at: now, expectedNonce: nonce)
            return nil
        } catch {
            return error
        }
    }

    @Test func acceptsAGoodToken() {
        #expect(rejection(claims()) == nil)
        #expect(rejection(claims(audiences: ["other", "neosc"])) == nil, "one matching audience suffices")
        #expect(rejection(claims(expiresIn: -30)) == nil, "within the clock-skew leeway")
        #expect(rejection(claims(), nonce: "n-1") == nil)
    }

    @Test func refusesEachBrokenClaim() {
        #expect(rejection(claims(issuer: "https://evil.example.com")) == .wrongIssuer)
        #expect(rejection(claims(issuer: nil)) == .wrongIssuer)
        #expect(rejection(claims(audiences: ["other"])) == .wrongAudience)
        #expect(rejection(claims(audiences: [])) == .wrongAudience)
        #expect(rejection(claims(expiresIn: -61)) == .expired)
        #expect(rejection(claims(issuedAgo: -120)) == .notYetValid, "issued in the future")
        #expect(rejection(claims(notBeforeIn: 120)) == .notYetValid)
        #expect(rejection(claims(expiresIn: 7_200)) == .lifetimeTooLong, "longer-lived than any real token")
        // Without `iat` a token's remaining life is bounded the same way, or it could live for years.
        let undated = { (expiresIn: TimeInterval) in
            SignedClaims(
                issuer: "https://id.example.com", subject: "u-1", audiences: ["neosc"], expiresAt: now + expiresIn, issuedAt: nil,
                notBefore: nil, nonce: nil)
        }
        #expect(rejection(undated(3_600)) == nil)
        #expect(rejection(undated(3_601)) == .lifetimeTooLong)
        #expect(rejection(undated(10 * 365 * 86_400)) == .lifetimeTooLong, "not 'expired': it is far from that")
        let unending = SignedClaims(
            issuer: "https://id.example.com", subject: "u-1", audiences: ["neosc"], expiresAt: nil, issuedAt: now, notBefore: nil,
            nonce: nil)
        #expect(rejection(unending) == .missingExpiry)
        #expect(rejection(claims(subject: "")) == .missingSubject)
        #expect(rejection(claims(nonce: nil), nonce: "n-1") == .missingNonce)
        #expect(rejection(claims(), nonce: "n-2") == .nonceMismatch)
    }
}

@Suite struct ConstantTimeTests {
    @Test func comparesWholeValues() {
        #expect(ConstantTime.equal("state-abc", "state-abc"))
        #expect(!ConstantTime.equal("state-abc", "state-abd"))
        #expect(!ConstantTime.equal("state-abc", "state-ab"))
        #expect(!ConstantTime.equal("", "x") && ConstantTime.equal("", ""))
    }
}

@Suite struct AccountLinkingTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func external(
        roles: Set<Role> = [.user], email: String? = "ann@example.com", verified: Bool = true, mfa: Bool = false,
        saidUnverified: Bool = false
    ) -> ExternalIdentity {
        ExternalIdentity(
            provider: "https://id.example.com", subject: "sub-1", email: email, emailVerified: verified, name: "Ann",
            roles: roles, mfaVerified: mfa, expiresAt: now + 300, emailUnverified: saidUnverified)
    }

    func user(ssoSubject: String? = nil, disabled: Bool = false, role: Role = .user) -> User {
        User(
            id: "usr_1", email: "ann@example.com", name: "Ann", organizationID: nil, role: role, passwordHash: "x",
            ssoProvider: ssoSubject.map { _ in "https://id.example.com" }, ssoSubject: ssoSubject, disabled: disabled,
            createdAt: now, updatedAt: now)
    }

    @Test func decisions() throws {
        #expect(try AccountLinking.decide(external(), linked: nil, sameEmail: nil) == .provision)
        let linked = user(ssoSubject: "sub-1")
        #expect(try AccountLinking.decide(external(), linked: linked, sameEmail: nil) == .signIn(linked))
        #expect(try AccountLinking.decide(external(), linked: nil, sameEmail: user()) == .link(user()))
        // A linked account the provider grants no role any more: its access is withdrawn.
        #expect(try AccountLinking.decide(external(roles: []), linked: linked, sameEmail: nil) == .withdraw(linked))
    }

    @Test func refusals() {
        #expect(throws: DomainError.self) { try AccountLinking.decide(external(roles: []), linked: nil, sameEmail: nil) }
        #expect(throws: DomainError.self) { try AccountLinking.decide(external(verified: false), linked: nil, sameEmail: user()) }
        #expect(throws: DomainError.self) { try AccountLinking.decide(external(email: nil), linked: nil, sameEmail: nil) }
        #expect(throws: DomainError.self) {
            try AccountLinking.decide(external(), linked: nil, sameEmail: user(ssoSubject: "someone-else"))
        }
        #expect(throws: DomainError.self) {
            try AccountLinking.decide(external(), linked: user(ssoSubject: "sub-1", disabled: true), sameEmail: nil)
        }
        // Demo visitors' accounts are NeoSC's own: no provider identity becomes or takes one.
        #expect(throws: DomainError.conflict("This e-mail address belongs to a demo visitor's account")) {
            try AccountLinking.decide(external(), linked: nil, sameEmail: user(role: .demoUser))
        }
        for address in ["demo_1@demo.neosc.invalid", "x@a.demo.neosc.invalid"] {
            #expect(throws: DomainError.self, "\(address)") { try AccountLinking.decide(external(email: address), linked: nil, sameEmail: nil) }
        }
    }

    @Test("an address the provider said it did not verify holds its account until an identity whose provider verified it comes")
    func unverifiedAddressesAreUnproven() throws {
        let made = AccountLinking.provision(external(verified: false, saidUnverified: true), id: "usr_2", at: now)
        #expect(made.addressUnverified && !made.selfRegistered)
        #expect(!AccountLinking.provision(external(), id: "usr_2", at: now).addressUnverified)
        // A provider that says nothing either way (Pomerium's headers) marks nothing: its accounts
        // would otherwise be anyone's whose provider verifies the address.
        #expect(!AccountLinking.provision(external(verified: false), id: "usr_2", at: now).addressUnverified)
        // Proved (or made before the mark existed), a linked account is its identity's for good.
        var registeredAndProved = user(ssoSubject: "someone-else")
        registeredAndProved.selfRegistered = true
        #expect(throws: DomainError.conflict("This e-mail address belongs to an account linked to another sign-in")) {
            try AccountLinking.decide(external(), linked: nil, sameEmail: registeredAndProved)
        }
        var squatted = user(ssoSubject: "someone-else")
        squatted.addressUnverified = true
        #expect(try AccountLinking.decide(external(), linked: nil, sameEmail: squatted) == .reclaim(squatted))
        #expect(throws: DomainError.conflict("This e-mail address belongs to an account linked to another sign-in")) {
            try AccountLinking.decide(external(verified: false), linked: nil, sameEmail: squatted)
        }
        // Proved by the provider of the identity it is linked to: no longer anyone's to take.
        let proved = AccountLinking.applying(external(), to: squatted, at: now + 10)
        #expect(!proved.addressUnverified)
        #expect(AccountLinking.applying(external(verified: false), to: squatted, at: now + 10).addressUnverified)
        #expect(AccountLinking.applying(external(email: "other@example.com"), to: squatted, at: now + 10).addressUnverified)
    }

    @Test func theProviderDecidesRoleAndName() {
        let updated = AccountLinking.applying(external(roles: [.user, .neosc]), to: user(), at: now + 10)
        #expect(updated.role == .neosc, "the most privileged role granted")
        #expect(updated.ssoSubject == "sub-1")
        #expect(updated.passwordHash == "x")
        #expect(updated.updatedAt == now + 10)
        let same = AccountLinking.applying(external(), to: user(ssoSubject: "sub-1"), at: now + 10)
        #expect(same.updatedAt == now, "no change, no new timestamp")
    }

    @Test("an account of the provider alone has MFA when the provider's latest sign-in had it; one with a password keeps its own")
    func theProviderDecidesMFAForItsOwnAccounts() {
        #expect(AccountLinking.provision(external(mfa: true), id: "usr_2", at: now).mfaEnabled)
        #expect(!AccountLinking.provision(external(mfa: false), id: "usr_2", at: now).mfaEnabled)
        var providerOnly = user(ssoSubject: "sub-1")
        providerOnly.passwordHash = nil
        let withMFA = AccountLinking.applying(external(mfa: true), to: providerOnly, at: now + 10)
        #expect(withMFA.mfaEnabled && withMFA.updatedAt == now + 10)
        #expect(!AccountLinking.applying(external(mfa: false), to: withMFA, at: now + 20).mfaEnabled)
        var enrolled = user(ssoSubject: "sub-1")
        enrolled.mfaEnabled = true
        #expect(AccountLinking.applying(external(mfa: false), to: enrolled, at: now + 10).mfaEnabled)
        #expect(!AccountLinking.applying(external(mfa: true), to: user(ssoSubject: "sub-1"), at: now + 10).mfaEnabled)
    }

    @Test func roleNames() {
        #expect(ProviderRoles.roles(named: ["Admin", "demo-user", "administrators", "auditor"]) == [.admin, .demoUser])
        #expect(ProviderRoles.zitadelRolesClaim(projectID: "42") == "urn:zitadel:iam:org:project:42:roles")
    }
}

/// A provider's display name never fails a sign-in, and never stores what a local name may not.
@Suite struct ProviderNameTests {
    @Test func keepsAnOrdinaryNameAsSentBarNormalisation() {
        #expect(Validation.providerName("  Zoë Q. Public ") == "Zoë Q. Public")
        #expect(Validation.providerName("Zoe\u{0308}") == "Zoë", "normal form C")
    }

    @Test func dropsControlCharactersAndEmptiness() throws {
        #expect(Validation.providerName("Mallory\u{0000}\u{001B}[31m") == "Mallory[31m")
        #expect(Validation.providerName(" \u{0007} ") == nil)
        #expect(Validation.providerName("") == nil)
        #expect(Validation.providerName("Eve\u{202E}gnp.exe\u{200B}") == "Evegnp.exe", "bidi override and zero-width space")
        #expect(Validation.providerName("\u{0645}\u{06CC}\u{200C}\u{0632}") == "\u{0645}\u{06CC}\u{200C}\u{0632}", "ZWNJ kept")
        #expect(Validation.providerName("\u{1F469}\u{200D}\u{1F4BB}") == "\u{1F469}\u{200D}\u{1F4BB}", "ZWJ kept")
        #expect(Validation.providerName("\u{200D}") == nil, "a lone joiner is nothing")
        #expect(Validation.providerName("Ac\u{200C}me \u{200D}") == "Acme", "joiners out of place dropped")
        #expect(Validation.providerName("e\u{200D}\u{0301}") == "\u{00E9}", "what a dropped joiner parted is normalised again")
        let cut = try #require(Validation.providerName(String(repeating: "\u{0915}", count: 119) + "\u{0937}\u{200D}\u{0937}"))
        #expect(cut.unicodeScalars.last == "\u{0937}" && (try? Validation.text(cut, field: "name")) == cut, "a joiner the cut left last is dropped")
    }

    @Test("a mark on nothing, and marks piled past eight on one letter, are dropped: what is kept passes the name rules")
    func dropsStrayMarks() throws {
        #expect(Validation.providerName("\u{0301}") == nil)
        #expect(Validation.providerName(" \u{0301}\u{0302} Zo\u{00EB}") == "Zo\u{00EB}")
        #expect(Validation.providerName("\u{0301} \u{0301}Zoe") == "Zoe", "a mark the trim bared is dropped too")
        let piled = try #require(Validation.providerName("Za" + String(repeating: "\u{0301}", count: 200) + "lgo"))
        #expect(piled == "Z\u{00E1}" + String(repeating: "\u{0301}", count: 8) + "lgo", "\(piled.unicodeScalars.count) scalars")
        #expect((try? Validation.text(piled, field: "name")) == piled)
        #expect(Validation.providerName("Nguy\u{1EC5}n") == "Nguy\u{1EC5}n")
    }

    @Test func dropsBlankLettersAndMisplacedSelectors() throws {
        #expect(Validation.providerName("\u{3164}") == nil, "a Hangul filler is nothing")
        #expect(Validation.providerName("\u{2800}\u{FFA0} ") == nil)
        #expect(Validation.providerName("Ann\u{2028}Lee\u{E000}") == "AnnLee")
        #expect(Validation.providerName("Acme\u{FE00}") == "Acme", "a selector after a letter that has no forms")
        #expect(Validation.providerName("\u{2764}\u{FE0F}\u{FE0F} Ann") == "\u{2764}\u{FE0F} Ann", "one selector per character")
        // Dropping one can leave another out of place: the joiner that followed the selector.
        #expect(Validation.providerName("a\u{FE0F}\u{200D}\u{0915}") == "a\u{0915}")
        // The Kelvin sign is K in normal form C: the joiner after it is out of place once normalised.
        #expect(Validation.providerName("\u{212A}\u{200D}\u{0915}") == "K\u{0915}")
        // A keycap is one character: the cut keeps it whole or drops it whole.
        let kept = try #require(Validation.providerName(String(repeating: "\u{0915}", count: 119) + "1\u{FE0F}\u{20E3}"))
        #expect(kept.unicodeScalars.suffix(3).elementsEqual(["1", "\u{FE0F}", "\u{20E3}"]))
        #expect((try? Validation.text(kept, field: "name")) == kept)
        let dropped = try #require(Validation.providerName(String(repeating: "\u{0915}", count: 120) + "1\u{FE0F}\u{20E3}"))
        #expect(dropped == String(repeating: "\u{0915}", count: 120))
    }

    @Test func isCutToTheLengthsALocalNameMayHave() throws {
        let long = try #require(Validation.providerName(String(repeating: "é", count: 500)))
        #expect(long.count == Validation.nameLength.upperBound)
        // One letter under 400,000 combining marks keeps eight of them (`text`'s most), which fit.
        let eight = "\u{00E1}" + String(repeating: "\u{0301}", count: 8)
        let stacked = Validation.providerName("a" + String(repeating: "\u{0301}", count: 400_000))
        #expect(stacked == eight)
        let mixed = Validation.providerName("Ann " + "a" + String(repeating: "\u{0301}", count: 400_000))
        #expect(mixed == "Ann " + eight)
        #expect((try? Validation.text(long, field: "name")) == long, "what it keeps passes the local rules")
    }
}

/// A demo's claims go only to an account made for the demo (issue #15, demo chain): typing
/// someone's address into the demo form must not turn their account into a demo visitor.
@Suite struct DemoClaimBindingTests {
    static let started = Date(timeIntervalSince1970: 1_800_000_000)
    static let demo = DemoSession(
        id: "demo-1", userID: "usr-demo", workspaceID: "ws", workspaceType: "browser", contactEmail: "v@example.com",
        clientAddress: "192.0.2.1", createdAt: started, expiresAt: started + 1_800, maxExpiresAt: started + 7_200)

    static func allows(
        created: Date?, verified: Bool = true, roles: Set<Role> = [], demo: DemoSession = demo, now: Date = started + 60
    ) -> Bool {
        DemoClaimBinding.allows(demo, accountCreatedAt: created, emailVerified: verified, grantedRoles: roles, now: now)
    }

    @Test func anAccountMadeForTheDemoIsBound() {
        #expect(Self.allows(created: Self.started + 30))
        #expect(Self.allows(created: Self.started - 30), "within the clock skew")
        #expect(Self.allows(created: Self.started + 30, roles: [.demoUser]))
    }

    @Test func anythingElseIsNot() {
        #expect(!Self.allows(created: Self.started - 3_600), "an account older than the demo")
        #expect(!Self.allows(created: nil), "no creation time")
        #expect(!Self.allows(created: Self.started + 30, verified: false), "an unverified address")
        #expect(!Self.allows(created: Self.started + 30, roles: [.admin]), "an administrator")
        #expect(!Self.allows(created: Self.started + 30, roles: [.user, .demoUser]), "any other role")
        #expect(!Self.allows(created: Self.started + 30, now: Self.started + 1_800), "the demo's end")
        var ended = Self.demo
        ended.status = .ended
        #expect(!Self.allows(created: Self.started + 30, demo: ended))
    }
}
