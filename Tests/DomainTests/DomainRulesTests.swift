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

    @Test("a new account's address has a DNS domain, not the demo visitors' own; an existing one is still read as it was")
    func newEmails() throws {
        #expect(try Validation.newEmail(" Ann@Sub.Example.org ") == "ann@sub.example.org")
        for raw in [
            "u@-acme.com", "u@acme-.com", "u@" + String(repeating: "a", count: 64) + ".com", "v@demo.neosc.invalid", "v@a.demo.neosc.invalid",
        ] {
            #expect(throws: DomainError.self, "\(raw)") { try Validation.newEmail(raw) }
            #expect((try? Validation.normalisedEmail(raw)) != nil, "\(raw): still a name to look an account up by")
        }
    }

    @Test("a name, a type, a category is one line; a description may have several")
    func oneLineFields() throws {
        #expect(throws: DomainError.invalid("name must be one line")) { try Validation.line("Line A\nLine B", field: "name") }
        #expect(try Validation.line("  Line A\n", field: "name") == "Line A", "trimmed first")
        #expect(try Validation.text("line 1\nline 2", field: "description", length: 0...500) == "line 1\nline 2")
    }

    @Test func passwordLength() throws {
        try Validation.requireValidPassword("12345678")
        try Validation.requireValidPassword(String(repeating: "x", count: 128))
        #expect(throws: DomainError.self) { try Validation.requireValidPassword("1234567") }
        #expect(throws: DomainError.self) { try Validation.requireValidPassword(String(repeating: "x", count: 129)) }
        // Counted in scalars, as the OpenAPI schema's minLength counts: "ｶﾞ" is two scalars in one
        // character, so this is eight (it was once refused as seven characters).
        try Validation.requireValidPassword("abcdef\u{FF76}\u{FF9E}")
        #expect(throws: DomainError.self) { try Validation.requireValidPassword("abcde\u{FF76}\u{FF9E}") }
        // 128 scalars, however few characters they make, and the bytes they take (4 × 128 at most).
        try Validation.requireValidPassword("a" + String(repeating: "\u{301}", count: 127))
        try Validation.requireValidPassword(String(repeating: "\u{1F600}", count: 128))
        #expect(throws: DomainError.self) { try Validation.requireValidPassword("a" + String(repeating: "\u{301}", count: 128)) }
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

    /// Controls and invisible format characters are refused; the two joiners that scripts and
    /// emoji need are not.
    @Test func textRefusesHiddenCharactersButNotTheJoinersWritingNeeds() throws {
        let needed = [
            "\u{1F469}\u{200D}\u{1F4BB} lab",  // 👩‍💻: an emoji joined with ZWJ
            "\u{0645}\u{0647}\u{062F}\u{06CC}\u{200C}\u{0632}\u{0627}\u{062F}\u{0647}",  // a Persian name with ZWNJ
            "\u{0915}\u{094D}\u{200D}\u{0937}",  // Devanagari with ZWJ
            "two\nlines",
        ]
        for text in needed {
            #expect(try Validation.text(text, field: "name") == text, "\(text.unicodeScalars.map { String($0.value, radix: 16) })")
        }
        let hidden: [Unicode.Scalar] = [
            "\u{0}", "\u{1B}", "\u{7F}", "\u{85}", "\u{200B}", "\u{200E}", "\u{200F}", "\u{202A}", "\u{202E}", "\u{2060}",
            "\u{2066}", "\u{2069}", "\u{061C}", "\u{FEFF}", "\u{00AD}", "\u{E0001}", "\u{E0041}", "\u{1D173}",
        ]
        for scalar in hidden {
            #expect(Validation.isRefusedInText(scalar), "U+\(String(scalar.value, radix: 16))")
            #expect(throws: DomainError.self, "U+\(String(scalar.value, radix: 16))") {
                try Validation.text("invoice\(scalar)fdp.exe", field: "name")
            }
        }
        #expect(!Validation.isRefusedInText("\u{200C}") && !Validation.isRefusedInText("\u{200D}"))
        // A joiner anywhere but between two letters that need one only hides something.
        let stray = [
            "\u{200D}", "\u{200C}", "Ac\u{200C}me", "\u{200D}\u{0915}", "\u{0915}\u{200D}", "\u{0915}\u{200D}\u{200D}\u{0937}",
            "\u{0915} \u{200D}\u{0937}", "\u{0915}\u{200D} \u{0937}", "Acme \u{200C}",
        ]
        for text in stray {
            #expect(throws: DomainError.self, "\(text.unicodeScalars.map { String($0.value, radix: 16) })") {
                try Validation.text(text, field: "name")
            }
        }
        // Organisations: a joiner does not make a second name of the same one.
        #expect(Organization.nameKey("\u{0645}\u{06CC}\u{200C}\u{0632} Co") == Organization.nameKey("\u{0645}\u{06CC}\u{0632} co"))
        // Nor does a variation selector after a letter that has no variants (it looks the same).
        #expect(try Validation.text("Caf\u{00E9}\u{FE00}", field: "name") == "Caf\u{00E9}\u{FE00}")
        #expect(Organization.nameKey("Caf\u{00E9}\u{FE00}") == Organization.nameKey("caf\u{00E9}"))
        #expect(!Validation.isRefusedInText("\u{FE0F}"), "a variation selector is kept where it selects a form")
    }

    /// Characters that draw as nothing, or as whatever a font chose, make a name look empty or
    /// like another; variation selectors are kept only right after the character they select a
    /// form of.
    @Test func textRefusesBlankAndInvisibleLettersAndMisplacedSelectors() throws {
        let refused: [Unicode.Scalar] = [
            "\u{2028}", "\u{2029}",  // line and paragraph separators
            "\u{E000}", "\u{F8FF}", "\u{F0000}", "\u{10FFFD}",  // private use
            "\u{3164}", "\u{FFA0}", "\u{115F}", "\u{1160}",  // Hangul fillers
            "\u{034F}", "\u{17B4}", "\u{FFF0}", "\u{E0FFF}",  // other default-ignorables
            "\u{2800}",  // the blank Braille pattern
        ]
        for scalar in refused {
            #expect(Validation.isRefusedInText(scalar), "U+\(String(scalar.value, radix: 16))")
            #expect(throws: DomainError.self, "U+\(String(scalar.value, radix: 16))") {
                try Validation.text("Ac\(scalar)me", field: "name")
            }
        }
        #expect(throws: DomainError.self, "a name of one Hangul filler") { try Validation.text("\u{3164}", field: "name") }
        let placed = [
            "\u{2764}\u{FE0F} team",  // ❤️, emoji presentation
            "floor 1\u{FE0F}\u{20E3}",  // 1️⃣, a keycap
            "\u{845B}\u{E0100}\u{98FE}",  // 葛󠄀飾, an ideographic variation sequence in a Japanese name
            "\u{1820}\u{180B}",  // a Mongolian letter with a free variation selector
            "\u{1F441}\u{FE0F}\u{200D}\u{1F5E8}\u{FE0F}",  // 👁️‍🗨️: selectors and a joiner
        ]
        for text in placed {
            #expect(try Validation.text(text, field: "name") == text, "\(text.unicodeScalars.map { String($0.value, radix: 16) })")
        }
        let misplaced = [
            "Acme\u{FE00}", "\u{FE0F}", "A\u{E0100}cme", "\u{2764}\u{FE0F}\u{FE0F}", "\u{2764} \u{FE0F}x", "1\u{FE0F}",
            "\u{0915}\u{200D}\u{FE0F}\u{0937}",
        ]
        for text in misplaced {
            #expect(throws: DomainError.self, "\(text.unicodeScalars.map { String($0.value, radix: 16) })") {
                try Validation.text(text, field: "name")
            }
        }
    }

    /// One letter and 400,000 combining marks is one character and 800 KB: limited by bytes too.
    @Test func textIsLimitedInBytesAndNormalised() throws {
        let stacked = "a" + String(repeating: "\u{0301}", count: 400_000)
        #expect(stacked.count == 1)
        #expect(throws: DomainError.self) { try Validation.text(stacked, field: "name") }
        // Within the bytes, a pile of marks on one letter is refused too, and so is a mark on nothing.
        let piled = "a" + String(repeating: "\u{0301}", count: 200)  // 401 bytes: 1 character, 480 allowed
        #expect(throws: DomainError.invalid("name may have at most 8 combining marks on one character")) {
            try Validation.text(piled, field: "name")
        }
        #expect(throws: DomainError.invalid("name must not start with a combining mark")) { try Validation.text("\u{0301}", field: "name") }
        #expect(throws: DomainError.self) { try Validation.text(" \u{0301}Acme", field: "name") }
        for written in [
            "Nguy\u{1EC5}n Th\u{1ECB}", "Vie\u{0323}\u{0302}t",  // Vietnamese: a letter with two marks
            "\u{05E9}\u{05C1}\u{05B8}\u{0591}\u{05DC}\u{05D5}\u{05B9}\u{05DD}",  // pointed Hebrew with cantillation
            "\u{0915}\u{094D}\u{0937}\u{093F}",  // क्षि: a Devanagari conjunct and its vowel sign
            "\u{0915}\u{093E}\u{0930}\u{094D}\u{0924}\u{094D}\u{0938}\u{094D}\u{0928}\u{094D}\u{092F}\u{0902}",  // कार्त्स्न्यं: five marks in one cluster
            "a" + String(repeating: "\u{0301}", count: 8),
        ] {
            #expect(try Validation.text(written, field: "name") == written.precomposedStringWithCanonicalMapping, "\(written)")
        }
        #expect(throws: DomainError.self) { try Validation.text("a" + String(repeating: "\u{0301}", count: 300), field: "name") }
        // 120 characters of a 4-byte script fit exactly.
        #expect(try Validation.text(String(repeating: "𝒜", count: 120), field: "name").count == 120)
        // NFC: a decomposed é is stored precomposed, so equal names are equal bytes.
        #expect(try Validation.text("Re\u{0301}sume\u{0301}", field: "name") == "R\u{00E9}sum\u{00E9}")
        #expect(try Validation.text("Re\u{0301}sume\u{0301}", field: "name").utf8.count == 8)
    }

    /// `/\\evil.example/x` is read by browsers as `//evil.example/x`: another host.
    @Test func relativeURLsStayOnThisHost() throws {
        for good in [
            "/", "/local", "/a/b?c=d#e", "/w/linux-desktop", "/café", "https://x.example:8443/a", "http://[::1]:8080/",
            "http://x.example:/", "http://x.example:0080/",
        ] {
            #expect(try Validation.url(good, field: "url") == good)
        }
        for bad in [
            "/\\evil.example/x", "//evil.example/x", "/ok\\..\\x", "/has space", "/tab\tin", "/nul\u{0}",
            // A C1 control, a right-to-left override, a zero-width space, a line separator, a no-break space.
            "/x\u{85}y", "/x\u{202E}y", "/x\u{200B}y", "/x\u{2028}y", "/x\u{A0}y",
            // Absolute: user information that hides the host, ports no integer holds or none exists for.
            "https://portal.example.com@evil.example/", "https://user:pw@x.example/", "https://x.example:99999999999999999999/",
            "https://x.example:65536/", "http://[::1]:99999999999999999999/",
            // Brackets hold an IPv6 address, nothing else (a probe: a name in them passed).
            "http://[evil.example]/", "http://[1.2.3.4]/", "http://[fe80::1%25eth0]/", "http://[::1/",
            // Default-ignorable: a Hangul filler, a combining grapheme joiner, a variation selector, a soft hyphen.
            "/ok\u{3164}path", "/x\u{34F}y", "/x\u{FE0F}y", "/x\u{AD}y",
        ] {
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

@Suite struct StreamUpstreamTests {
    @Test(arguments: [
        ("vnc://10.0.0.5", "vnc://10.0.0.5:5900"),
        ("VNC://Desk-1.Lab.Example:5901", "vnc://desk-1.lab.example:5901"),
        ("vnc://10.0.0.5:5901/", "vnc://10.0.0.5:5901"),
        ("vnc://[::1]:5901", "vnc://[::1]:5901"),
        ("ws://kasm.lab:6901/websockify?token=a%20b&x=1", "ws://kasm.lab:6901/websockify?token=a%20b&x=1"),
        ("ws://kasm.lab", "ws://kasm.lab:80/"),
        ("ws://kasm.lab?x=1", "ws://kasm.lab:80/?x=1"),
        ("wss://guac.lab/tunnel", "wss://guac.lab:443/tunnel"),
    ])
    func parsesAndNormalises(_ text: String, _ stored: String) throws {
        let upstream = try StreamUpstream(text)
        #expect(upstream.description == stored)
        #expect(try StreamUpstream(upstream.description) == upstream, "the stored form reads back as itself")
    }

    @Test func partsOfAnUpstream() throws {
        let tunnel = try StreamUpstream("wss://guac.example/guacamole/websocket-tunnel?token=secret")
        #expect(tunnel.shown == "wss://guac.example:443/guacamole/websocket-tunnel", "logs and the trail never show a query")
        #expect(try StreamUpstream("vnc://10.0.0.5:5901").shown == "vnc://10.0.0.5:5901")
        let vnc = try StreamUpstream("vnc://10.0.0.5")
        #expect(vnc.scheme == .vnc && vnc.host == "10.0.0.5" && vnc.port == 5900 && vnc.target.isEmpty)
        let v6 = try StreamUpstream("vnc://[::1]:5901")
        #expect(v6.host == "::1" && v6.port == 5901)
        let ws = try StreamUpstream("ws://kasm.lab:6901/websockify?token=t")
        #expect(ws.scheme == .ws && ws.host == "kasm.lab" && ws.port == 6901 && ws.target == "/websockify?token=t")
        let wss = try StreamUpstream("wss://guac.lab")
        #expect(wss.scheme == .wss && wss.port == 443 && wss.target == "/")
    }

    @Test(arguments: [
        "", "http://10.0.0.5", "https://10.0.0.5", "10.0.0.5:5900", "vnc://user@10.0.0.5", "vnc://user:pw@10.0.0.5",
        "ws://host/path#fragment", "ws://host/#", "vnc://10.0.0.5:5901/display", "vnc://10.0.0.5?x=1", "vnc://10.0.0.5:0",
        "vnc://10.0.0.5:70000", "vnc://", "vnc://:5901", "ws:///path", "vnc://ho st", "vnc://host\u{0}", "ws://host/\u{7}",
        "ws://host/\u{7F}", "vnc://hóst", "vnc://host_name", "vnc://-host", "vnc://host..lab", "vnc://127.1",
        "vnc://2130706433", "vnc://0x7f000001", "ws://host/" + String(repeating: "a", count: 1_020),
        // Ports no integer holds: read as none, they would have stood for the default port.
        "vnc://10.0.0.1:99999999999999999999", "ws://desk.lab:18446744073709551617/x", "vnc://[::1]:99999999999999999999",
    ])
    func refuses(_ text: String) {
        #expect(throws: DomainError.self, "\(text.prefix(40))") { try StreamUpstream(text) }
    }

    @Test func theLongestAcceptedIsTheLimit() throws {
        let prefix = "ws://host/"
        let longest = prefix + String(repeating: "a", count: StreamUpstream.maximumLength - prefix.count)
        #expect(try StreamUpstream(longest).description == "ws://host:80/" + String(repeating: "a", count: 1_014))
        #expect(throws: DomainError.self) { try StreamUpstream(longest + "a") }
    }

    static func allowlist(_ text: String) throws -> StreamUpstreamAllowlist {
        try StreamUpstreamAllowlist.parse(text).get()
    }

    @Test func addressesInListedRangesArePermitted() throws {
        let allowlist = try Self.allowlist("10.0.0.0/8, 192.0.2.7, fd00::/8")
        #expect(!allowlist.isEmpty && allowlist.hosts.isEmpty && allowlist.ranges.count == 3)
        #expect(allowlist.permits(try StreamUpstream("vnc://10.20.30.40:5901")))
        #expect(allowlist.permits(try StreamUpstream("wss://192.0.2.7/tunnel")))
        #expect(allowlist.permits(try StreamUpstream("vnc://[fd12::5]")))
        #expect(allowlist.permits(try StreamUpstream("vnc://[::ffff:10.1.2.3]")), "IPv4-mapped IPv6 is the IPv4 address")
        #expect(!allowlist.permits(try StreamUpstream("vnc://192.0.2.8")))
        #expect(!allowlist.permits(try StreamUpstream("vnc://11.0.0.1")))
        #expect(!allowlist.permits(try StreamUpstream("vnc://[::1]")))
        #expect(allowlist.permits(address: "10.0.0.1") && !allowlist.permits(address: "desk.lab"))
    }

    @Test func namesAreMatchedExactlyNeverByWhatTheyResolveTo() throws {
        let allowlist = try Self.allowlist("Desk.Lab.Example, 127.0.0.0/8")
        #expect(allowlist.hosts == ["desk.lab.example"])
        #expect(allowlist.permits(try StreamUpstream("vnc://desk.lab.example:5901")))
        #expect(allowlist.permits(try StreamUpstream("ws://DESK.lab.example/x")), "names compare without case")
        #expect(!allowlist.permits(try StreamUpstream("vnc://other.lab.example")))
        #expect(!allowlist.permits(try StreamUpstream("vnc://lab.example")), "a listed name covers no other")
        #expect(!allowlist.permits(try StreamUpstream("vnc://sub.desk.lab.example")), "nor its subdomains")
        // `localhost` resolves into 127.0.0.0/8, which is listed, but the name itself is not.
        #expect(!allowlist.permits(try StreamUpstream("vnc://localhost")))
        #expect(allowlist.permits(try StreamUpstream("vnc://127.0.0.1")))
    }

    @Test func emptyListsAllowNothing() throws {
        let upstream = try StreamUpstream("vnc://10.0.0.1")
        for text in ["", " ", " , ,"] {
            let allowlist = try Self.allowlist(text)
            #expect(allowlist.isEmpty && !allowlist.permits(upstream))
        }
        #expect(StreamUpstreamAllowlist().isEmpty)
    }

    @Test(arguments: [
        ("10.0.0.0/8, not a host", "not a host"), ("10.0.0.0/33", "10.0.0.0/33"), ("desk.lab:5900", "desk.lab:5900"),
        ("vnc://desk.lab", "vnc://desk.lab"), ("user@desk.lab", "user@desk.lab"), ("desk.lab/x", "desk.lab/x"),
        ("[::1]", "[::1]"), ("host_name", "host_name"), ("127.1", "127.1"), ("good.lab, *.lab", "*.lab"),
    ])
    func aBadEntryIsAParseFailureNamingIt(_ text: String, _ entry: String) {
        #expect(StreamUpstreamAllowlist.parse(text) == .failure(StreamUpstreamAllowlist.InvalidEntry(entry: entry)))
    }
}

@Suite struct WorkspaceDraftStreamUpstreamTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let upstreams = StreamUpstreamAllowlist(ranges: [AddressRange("10.0.0.0/8")!], hosts: ["kasm.lab"])

    static func draft(_ json: String) throws -> WorkspaceDraft {
        try JSONDecoder().decode(WorkspaceDraft.self, from: Data(json.utf8))
    }

    static func created(_ extra: String, upstreams: StreamUpstreamAllowlist = upstreams) throws -> Workspace {
        try draft(#"{"name":"N","type":"t","url":"/x""# + extra + "}").newWorkspace(id: "ws-n", at: now, upstreams: upstreams)
    }

    @Test func absentNullAndEmptyAreTold() throws {
        #expect(try Self.draft("{}").streamUpstream == nil, "absent: unchanged")
        #expect(try Self.draft(#"{"stream_upstream":null}"#).streamUpstream == "", "null: none")
        #expect(try Self.draft(#"{"stream_upstream":""}"#).streamUpstream == "")
        #expect(try Self.draft(#"{"stream_upstream":"vnc://10.0.0.1"}"#).streamUpstream == "vnc://10.0.0.1")
        #expect(throws: DecodingError.self) { try Self.draft(#"{"stream_upstream":5}"#) }
        #expect(throws: DecodingError.self) { try Self.draft(#"{"cpu":"two"}"#) }
        let everything = try Self.draft(
            #"{"id":"ws-a","name":"A","type":"linux","description":"d","image_url":"/i.png","status":"maintenance","cpu":3,"#
                + #""memory":5,"storage":7,"url":"/a","connection_type":"vnc","launch_mode":"new_tab","clientless":false,"#
                + #""requires_netbird":true,"allowed_roles":["user"],"max_session_minutes":9}"#)
        #expect(everything.id == "ws-a" && everything.name == "A" && everything.type == "linux" && everything.description == "d")
        #expect(everything.imageURL == "/i.png" && everything.status == .maintenance && everything.cpu == 3)
        #expect(everything.memory == 5 && everything.storage == 7 && everything.url == "/a" && everything.connectionType == "vnc")
        #expect(everything.launchMode == .newTab && everything.clientless == false && everything.requiresNetbird == true)
        #expect(everything.allowedRoles == [.user] && everything.maxSessionMinutes == 9 && everything.streamUpstream == nil)
    }

    @Test func setCheckedAndCleared() throws {
        #expect(try Self.created("").streamUpstream == nil)
        #expect(try Self.created(#","stream_upstream":null"#).streamUpstream == nil)
        let workspace = try Self.created(#","stream_upstream":"VNC://10.1.2.3""#)
        #expect(workspace.streamUpstream == "vnc://10.1.2.3:5900", "stored normalised")
        #expect(try Self.created(#","stream_upstream":"wss://kasm.lab/ws""#).streamUpstream == "wss://kasm.lab:443/ws")

        #expect(
            throws: DomainError.invalid(
                "stream_upstream: 192.0.2.1 is not among the upstreams this server may connect to (NEOSC_STREAM_UPSTREAMS)")
        ) {
            try Self.created(#","stream_upstream":"vnc://192.0.2.1""#)
        }
        #expect(throws: DomainError.self) { try Self.created(#","stream_upstream":"http://10.1.2.3""#) }
        #expect {
            try Self.created(#","stream_upstream":"vnc://10.1.2.3""#, upstreams: StreamUpstreamAllowlist())
        } throws: { error in
            guard case .invalid(let detail) = error as? DomainError else { return false }
            return detail.contains("streaming is off") && detail.contains("set NEOSC_STREAM_UPSTREAMS to allow it")
        }

        let later = Self.now + 60
        let kept = try Self.draft(#"{"name":"M"}"#).updating(workspace, at: later, upstreams: StreamUpstreamAllowlist())
        #expect(kept.streamUpstream == workspace.streamUpstream, "not sent: kept, whatever the allowlist")
        let cleared = try Self.draft(#"{"stream_upstream":null}"#).updating(workspace, at: later, upstreams: Self.upstreams)
        #expect(cleared.streamUpstream == nil)
        #expect(WorkspaceDraft.changedFields(from: workspace, to: cleared) == ["stream_upstream"])
        let emptied = try Self.draft(#"{"stream_upstream":""}"#).updating(workspace, at: later, upstreams: Self.upstreams)
        #expect(emptied.streamUpstream == nil)
    }
}

@Suite struct StreamTicketTests {
    static let issued = Date(timeIntervalSince1970: 1_800_000_000)
    static let ticket = StreamTicket(
        digest: "d", sessionID: "ses-1", userID: "usr-1", address: "192.0.2.7", issuedAt: issued, expiresAt: issued + 10)

    @Test func aTicketOpensItsOwnSessionFromItsAddressBeforeItExpires() {
        let judge = { (ticket: StreamTicket?, session: String, address: String, at: TimeInterval) in
            StreamTicket.judge(ticket, presentedFor: session, from: address, at: Self.issued + at)
        }
        #expect(judge(Self.ticket, "ses-1", "192.0.2.7", 9.999) == .success(Self.ticket))
        #expect(judge(nil, "ses-1", "192.0.2.7", 1) == .failure(.unknown))
        #expect(judge(Self.ticket, "ses-1", "192.0.2.7", 10) == .failure(.expired), "the moment it expires, not after")
        #expect(judge(Self.ticket, "ses-2", "192.0.2.7", 1) == .failure(.otherSession))
        #expect(judge(Self.ticket, "ses-1", "192.0.2.8", 1) == .failure(.otherAddress))
        #expect(judge(Self.ticket, "ses-2", "192.0.2.8", 11) == .failure(.expired), "an expired ticket says only that")
    }
}
