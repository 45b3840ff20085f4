import Domain
import Foundation
import Testing

@Suite struct ValidationTests {
    @Test(arguments: ["a@example.com", " Mixed.Case+tag@Sub.Example.org ", "x_y@a-b.co"])
    func acceptsEmails(_ raw: String) throws {
        let email = try Validation.normalisedEmail(raw)
        #expect(email == raw.trimmingCharacters(in: .whitespaces).lowercased())
    }

    @Test(arguments: [
        "", "plain", "@example.com", "a@", "a@b", "a@.com", "a@b..com", "a b@example.com",
        "a@exa mple.com", "\"q\"@example.com", "a@example.com.", String(repeating: "l", count: 65) + "@example.com",
    ])
    func refusesEmails(_ raw: String) {
        #expect(throws: DomainError.self) { try Validation.normalisedEmail(raw) }
    }

    @Test func passwordLength() throws {
        try Validation.requireValidPassword("12345678")
        try Validation.requireValidPassword(String(repeating: "x", count: 128))
        #expect(throws: DomainError.self) { try Validation.requireValidPassword("1234567") }
        #expect(throws: DomainError.self) { try Validation.requireValidPassword(String(repeating: "x", count: 129)) }
    }

    @Test func textAndURLs() throws {
        #expect(try Validation.text("  Name ", field: "name") == "Name")
        #expect(throws: DomainError.self) { try Validation.text("a\u{0}b", field: "name") }
        #expect(try Validation.url("https://x.example/path", field: "url") == "https://x.example/path")
        #expect(try Validation.url("/local", field: "url") == "/local")
        for bad in ["javascript:alert(1)", "//evil.example", "ftp://x.example", "https://", ""] {
            #expect(throws: DomainError.self, "\(bad)") { try Validation.url(bad, field: "url") }
        }
        #expect(try Validation.domain("Example.COM") == "example.com")
        #expect(throws: DomainError.self) { try Validation.domain("-bad.example") }
    }

    /// One letter and 400,000 combining marks is one character and 800 KB: limited by bytes too.
    @Test func textIsLimitedInBytesAndNormalised() throws {
        let stacked = "a" + String(repeating: "\u{0301}", count: 400_000)
        #expect(stacked.count == 1)
        #expect(throws: DomainError.self) { try Validation.text(stacked, field: "name") }
        let justUnder = "a" + String(repeating: "\u{0301}", count: 200)  // 401 bytes: 1 character, 480 allowed
        #expect(try Validation.text(justUnder, field: "name").utf8.count <= 480)
        #expect(throws: DomainError.self) { try Validation.text("a" + String(repeating: "\u{0301}", count: 300), field: "name") }
        // 120 characters of a 4-byte script fit exactly.
        #expect(try Validation.text(String(repeating: "𝒜", count: 120), field: "name").count == 120)
        // NFC: a decomposed é is stored precomposed, so equal names are equal bytes.
        #expect(try Validation.text("Re\u{0301}sume\u{0301}", field: "name") == "R\u{00E9}sum\u{00E9}")
        #expect(try Validation.text("Re\u{0301}sume\u{0301}", field: "name").utf8.count == 8)
    }

    /// `/\\evil.example/x` is read by browsers as `//evil.example/x`: another host.
    @Test func relativeURLsStayOnThisHost() throws {
        for good in ["/", "/local", "/a/b?c=d#e", "/w/linux-desktop"] {
            #expect(try Validation.url(good, field: "url") == good)
        }
        for bad in ["/\\evil.example/x", "//evil.example/x", "/ok\\..\\x", "/has space", "/tab\tin", "/nul\u{0}"] {
            #expect(throws: DomainError.self, "\(bad)") { try Validation.url(bad, field: "url") }
        }
    }

    @Test func slugs() {
        #expect(Identifier.isValidSlug("ws-linux-2"))
        #expect(!Identifier.isValidSlug("Ws"))
        #expect(!Identifier.isValidSlug("-lead"))
        #expect(!Identifier.isValidSlug(String(repeating: "a", count: 65)))
    }
}

@Suite struct TimeSpanTests {
    @Test func parses() {
        #expect(TimeSpan.seconds(parsing: "90s") == 90)
        #expect(TimeSpan.seconds(parsing: "30m") == 1_800)
        #expect(TimeSpan.seconds(parsing: "8h") == 28_800)
        #expect(TimeSpan.seconds(parsing: "2d") == 172_800)
        #expect(TimeSpan.seconds(parsing: "45") == 45)
        #expect(TimeSpan.seconds(parsing: " 5M ") == 300)
    }

    @Test(arguments: ["", "h", "0s", "-5m", "1.5h", "8 hours", "10w", "1234567890s"])
    func refuses(_ text: String) {
        #expect(TimeSpan.seconds(parsing: text) == nil)
    }
}

@Suite struct AccessRuleTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func principal(_ role: Role, id: String = "usr-1") -> Principal {
        Principal(
            userID: id, email: "\(id)@example.com", name: id, role: role, organizationID: nil, mfaVerified: false,
            credentialDigest: "d", credentialExpiresAt: now + 60)
    }

    static func workspace(_ status: Workspace.Status = .available, roles: [Role] = [.neosc]) -> Workspace {
        var workspace = DefaultCatalogue.workspaces(at: now)[0]
        workspace.status = status
        workspace.allowedRoles = roles
        return workspace
    }

    @Test func launchDecisions() throws {
        try AccessRules.requireLaunchable(Self.workspace(), by: Self.principal(.neosc))
        try AccessRules.requireLaunchable(Self.workspace(), by: Self.principal(.admin))
        #expect(throws: DomainError.forbidden("Your role may not use this workspace")) {
            try AccessRules.requireLaunchable(Self.workspace(), by: Self.principal(.user))
        }
        #expect(throws: DomainError.conflict("Workspace is under maintenance")) {
            try AccessRules.requireLaunchable(Self.workspace(.maintenance), by: Self.principal(.neosc))
        }
        #expect(throws: DomainError.conflict("Workspace is not available yet")) {
            try AccessRules.requireLaunchable(Self.workspace(.comingSoon), by: Self.principal(.neosc))
        }
        try AccessRules.requireBelowSessionLimit(activeSessions: 2, limit: 3)
        #expect(throws: DomainError.self) { try AccessRules.requireBelowSessionLimit(activeSessions: 3, limit: 3) }
    }

    @Test func sessionsBelongToTheirOwner() throws {
        let session = WorkspaceSession.launch(
            id: "ses-1", of: Self.workspace(), by: Self.principal(.neosc, id: "usr-a"), from: "10.0.0.1", at: Self.now)
        #expect(session.expiresAt == Self.now + 480 * 60)
        #expect(session.status == .active && session.ipAddress == "10.0.0.1")
        try AccessRules.requireOwnerOrAdmin(of: session, Self.principal(.neosc, id: "usr-a"))
        try AccessRules.requireOwnerOrAdmin(of: session, Self.principal(.admin, id: "usr-z"))
        #expect(throws: DomainError.notFound("Session not found")) {
            try AccessRules.requireOwnerOrAdmin(of: session, Self.principal(.neosc, id: "usr-b"))
        }
    }

    @Test func lastAdministrator() throws {
        let admin = User(
            id: "u", email: "a@example.com", name: "A", organizationID: nil, role: .admin, passwordHash: nil,
            createdAt: Self.now, updatedAt: Self.now)
        #expect(throws: DomainError.self) {
            try AccessRules.requireAdminRemains(changing: admin, toRole: .user, disabled: false, activeAdmins: 1)
        }
        #expect(throws: DomainError.self) {
            try AccessRules.requireAdminRemains(changing: admin, toRole: .admin, disabled: true, activeAdmins: 1)
        }
        try AccessRules.requireAdminRemains(changing: admin, toRole: .admin, disabled: false, activeAdmins: 1)
        try AccessRules.requireAdminRemains(changing: admin, toRole: .user, disabled: false, activeAdmins: 2)
    }

    @Test func sessionStatesOnlyLeaveActive() {
        for status in SessionStatus.allCases {
            for next in SessionStatus.allCases {
                #expect(status.canMove(to: next) == (status == .active && next != .active))
            }
        }
    }

    @Test func catalogueMixesRoles() {
        let catalogue = DefaultCatalogue.workspaces(at: Self.now)
        #expect(catalogue.contains { $0.isVisible(to: .user) })
        #expect(catalogue.contains { !$0.isVisible(to: .user) })
        #expect(Set(catalogue.map(\.id)).count == catalogue.count)
        #expect(DefaultCatalogue.policies(at: Self.now).map(\.id) == ["pol-mfa-required", "pol-network-zero-trust", "pol-session-recording"])
    }
}

@Suite struct SecurityScoreTests {
    static func policy(_ weight: Int, _ enabled: Bool) -> Policy {
        Policy(
            id: UUID().uuidString, name: "p", description: "", category: "c", enabled: enabled, weight: weight,
            rule: .sessionRecording(retentionDays: 30), updatedAt: Date())
    }

    @Test func formula() {
        #expect(SecurityScore.compute(policies: [], activeUsers: 0, usersWithMFA: 0) == 0)
        #expect(SecurityScore.compute(policies: [Self.policy(10, true)], activeUsers: 4, usersWithMFA: 4) == 100)
        #expect(SecurityScore.compute(policies: [Self.policy(40, true), Self.policy(60, false)], activeUsers: 4, usersWithMFA: 1) == 34)
        #expect(SecurityScore.compute(policies: [Self.policy(40, false)], activeUsers: 3, usersWithMFA: 9) == 40, "coverage caps at 1")
    }
}
