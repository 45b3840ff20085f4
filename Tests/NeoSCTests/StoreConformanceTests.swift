import Actors
import Domain
import Foundation
import Services
import Testing

@testable import App
@testable import SQLiteStore

/// One suite, both stores: what the storage protocols promise, checked against SQLite and MongoDB.
@Suite struct StoreConformanceTests {
    /// Millisecond precision: what both stores keep.
    static func now(plus seconds: TimeInterval = 0) -> Date {
        Date(timeIntervalSince1970: ((Date().timeIntervalSince1970 + seconds) * 1_000).rounded() / 1_000)
    }

    static func user(
        _ email: String, role: Role = .user, organizationID: String? = nil, mfa: Bool = false,
        disabled: Bool = false, createdAt: Date = now()
    ) -> User {
        User(
            id: Identifier.make("usr"), email: email, name: "N \(email)", organizationID: organizationID, role: role,
            passwordHash: "$2b$10$hash", mfaEnabled: mfa, disabled: disabled, createdAt: createdAt, updatedAt: createdAt)
    }

    static func session(for user: User, on workspace: String = "ws-linux-desktop", at date: Date = now()) -> WorkspaceSession {
        WorkspaceSession(
            id: Identifier.make("ses"), userID: user.id, userEmail: user.email, workspaceID: workspace,
            workspaceName: "Name of \(workspace)", status: .active, startedAt: date, expiresAt: date + 3_600,
            lastSeenAt: date, ipAddress: "192.0.2.1", mfaVerified: true)
    }

    @Test(arguments: StoreKind.allCases)
    func users(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            let org = Organization(id: "org-1", name: "Acme", domain: "acme.example", createdAt: Self.now())
            let alice = Self.user("alice@acme.example", role: .admin, organizationID: org.id, mfa: true, createdAt: Self.now(plus: -10))
            try await store.insert(alice, creating: org)
            #expect(try await store.user(id: alice.id) == alice)
            #expect(try await store.user(email: "alice@acme.example") == alice)
            #expect(try await store.organization(id: org.id) == org)

            // A duplicate e-mail is a conflict, and leaves no organisation behind.
            let stray = Organization(id: "org-2", name: "Stray", domain: nil, createdAt: Self.now())
            await #expect(throws: DomainError.conflict("Email already registered")) {
                try await store.insert(Self.user("alice@acme.example"), creating: stray)
            }
            #expect(try await store.organization(id: "org-2") == nil)

            let bob = Self.user("bob@acme.example", organizationID: org.id)
            let carol = Self.user("carol@else.example", disabled: true, createdAt: Self.now(plus: 10))
            try await store.insert(bob, creating: nil)
            try await store.insert(carol, creating: nil)
            #expect(try await store.users(limit: 10, offset: 0).map(\.id) == [carol.id, bob.id, alice.id])
            #expect(try await store.users(limit: 1, offset: 1).map(\.id) == [bob.id])

            // A search keeps the accounts whose e-mail or name contains the text, ignoring case,
            // newest first and paged; the text is literal (`%`, `_`, `.`, `*` match only themselves).
            #expect(try await store.users(matching: "ACME", limit: 10, offset: 0).map(\.id) == [bob.id, alice.id])
            #expect(try await store.users(matching: "ACME", limit: 1, offset: 1).map(\.id) == [alice.id])
            #expect(try await store.users(matching: "n carol", limit: 10, offset: 0).map(\.id) == [carol.id])
            #expect(try await store.users(matching: "", limit: 10, offset: 0).count == 3)
            for literal in ["%", "_", ".*", "a.c", "(", "["] {
                #expect(try await store.users(matching: literal, limit: 10, offset: 0).isEmpty, "\(literal)")
            }
            let odd = Self.user("x_50%.off@else.example", createdAt: Self.now(plus: -20))
            try await store.insert(odd, creating: nil)
            for literal in ["_50%", ".off", "x_"] {
                #expect(try await store.users(matching: literal, limit: 10, offset: 0).map(\.id) == [odd.id], "\(literal)")
            }
            // A backslash is literal too (with it unescaped, `%\\%` would mean "contains %": odd).
            #expect(try await store.users(matching: "\\", limit: 10, offset: 0).isEmpty)
            // A `%` under a combining mark is still `%` to SQLite: escaped scalar by scalar, it
            // matches only itself (unescaped, it would match any name holding the mark).
            var accented = Self.user("jose@else.example", createdAt: Self.now(plus: -30))
            accented.name = "Jose\u{301}"
            try await store.insert(accented, creating: nil)
            #expect(try await store.users(matching: "%\u{301}", limit: 10, offset: 0).isEmpty)
            // Case is ignored in every script, not only for ASCII letters.
            var ebene = Self.user("ebene@else.example", createdAt: Self.now(plus: -40))
            ebene.name = "Ébène Σοφία"
            try await store.insert(ebene, creating: nil)
            for search in ["ébène", "ÉBÈNE", "σοφία", "ΣΟΦΊΑ"] {
                #expect(try await store.users(matching: search, limit: 10, offset: 0).map(\.id) == [ebene.id], "\(search)")
            }

            var changed = bob
            changed.role = .neosc
            changed.mfaEnabled = true
            try await store.update(changed)
            #expect(try await store.user(id: bob.id)?.role == .neosc)
            var ghost = bob
            ghost.id = "usr-ghost"
            await #expect(throws: DomainError.notFound("User not found")) { try await store.update(ghost) }

            #expect(try await store.activeUserCounts(organizationID: nil) == (5, 2))
            #expect(try await store.activeUserCounts(organizationID: org.id) == (2, 2))
            #expect(try await store.activeUserCounts(organizationID: "org-none") == (0, 0))
            #expect(try await store.activeAdminCount() == 1)
        }
    }

    /// `/health`'s write probe: it writes (twice, the second an update of the first) and the
    /// health actor reports the store healthy on both stores.
    @Test(arguments: StoreKind.allCases)
    func writeProbe(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            try await store.probeWrite(at: Self.now())
            try await store.probeWrite(at: Self.now(plus: 1))
            #expect(await StoreHealth(store: store).check() == .healthy)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func loginUnlocks(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            let old = LoginUnlock(email: "a@example.com", at: Self.now(plus: -90_000))
            let recent = LoginUnlock(email: "b@example.com", at: Self.now(plus: -60))
            let newest = LoginUnlock(email: "a@example.com", at: Self.now())
            for unlock in [newest, old, recent] { try await store.insert(unlock) }
            #expect(try await store.unlocks(since: Self.now(plus: -3_600)) == [recent, newest], "recent ones, oldest first")
            _ = try await store.purgeExpired(before: Self.now(plus: -86_400))
            #expect(try await store.unlocks(since: Self.now(plus: -100_000)) == [recent, newest], "old ones purged")
        }
    }

    /// The Zitadel Actions target binds a verified address to the newest active demo it started.
    @Test(arguments: StoreKind.allCases)
    func activeDemoByContactAddress(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            func demo(_ id: String, contact: String?, status: DemoSession.Status = .active, age: TimeInterval) -> DemoSession {
                DemoSession(
                    id: id, userID: "usr-\(id)", workspaceID: "ws-browser", workspaceType: "browser", contactEmail: contact,
                    clientAddress: "192.0.2.1", status: status, createdAt: Self.now(plus: -age),
                    expiresAt: Self.now(plus: 1_800), maxExpiresAt: Self.now(plus: 7_200))
            }
            for one in [
                demo("demo-old", contact: "v@example.com", age: 600), demo("demo-new", contact: "v@example.com", age: 60),
                demo("demo-ended", contact: "v@example.com", status: .ended, age: 10),
                demo("demo-other", contact: "w@example.com", age: 30), demo("demo-none", contact: nil, age: 5),
            ] {
                try await store.insert(one, limit: 100, perAddressLimit: 100)
            }
            #expect(try await store.activeDemo(contactEmail: "v@example.com")?.id == "demo-new", "the newest active one")
            #expect(try await store.activeDemo(contactEmail: "w@example.com")?.id == "demo-other")
            #expect(try await store.activeDemo(contactEmail: "nobody@example.com") == nil)
        }
    }

    /// The demos active at once from one client: an IPv4 address or an IPv6 /64 (`DemoCapacity`).
    @Test(arguments: StoreKind.allCases)
    func demoLimitsCountClients(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            func demo(_ id: String, from address: String) -> DemoSession {
                DemoSession(
                    id: id, userID: "usr-\(id)", workspaceID: "ws-browser", workspaceType: "browser", contactEmail: nil,
                    clientAddress: address, createdAt: Self.now(), expiresAt: Self.now(plus: 1_800), maxExpiresAt: Self.now(plus: 7_200))
            }
            try await store.insert(demo("demo-a", from: "2001:db8:5:1::1"), limit: 3, perAddressLimit: 1)
            await #expect(throws: DomainError.self, "another address of the same /64") {
                try await store.insert(demo("demo-b", from: "2001:db8:5:1::2"), limit: 3, perAddressLimit: 1)
            }
            try await store.insert(demo("demo-c", from: "2001:db8:5:2::1"), limit: 3, perAddressLimit: 1)
            try await store.insert(demo("demo-d", from: "192.0.2.1"), limit: 3, perAddressLimit: 1)
            await #expect(throws: DomainError.self, "three running in all") {
                try await store.insert(demo("demo-e", from: "192.0.2.2"), limit: 3, perAddressLimit: 1)
            }
            #expect(try await store.demo(id: "demo-b") == nil, "a refusal inserts nothing")
            #expect(try await store.demo(id: "demo-e") == nil)
            #expect(try await store.demo(id: "demo-c")?.clientAddress == "2001:db8:5:2::1", "the address itself is kept")
        }
    }

    /// Demos started at once on two stores of one database, as two replicas start them: no more
    /// run than the limits allow (on MongoDB a count then an insert let each see room), and a
    /// demo whose clean-up has begun frees its place.
    @Test(arguments: StoreKind.allCases)
    func demoLimitsHoldWhenReplicasStartDemosAtOnce(_ kind: StoreKind) async throws {
        try await AuditChainStoreTests.withTwoStores(kind) { first, second in
            func demo(_ id: String, from address: String) -> DemoSession {
                DemoSession(
                    id: id, userID: "usr-\(id)", workspaceID: "ws-browser", workspaceType: "browser", contactEmail: nil,
                    clientAddress: address, createdAt: Self.now(), expiresAt: Self.now(plus: 1_800), maxExpiresAt: Self.now(plus: 7_200))
            }
            /// Starts `count` demos at once, alternating between the stores; how many started.
            func start(_ count: Int, named name: String, from address: (Int) -> String, limit: Int, perAddressLimit: Int) async -> Int {
                await withTaskGroup(of: Bool.self) { group in
                    for index in 0..<count {
                        let store = index.isMultiple(of: 2) ? first : second
                        let starting = demo("\(name)-\(index)", from: address(index))
                        group.addTask {
                            do {
                                try await store.insert(starting, limit: limit, perAddressLimit: perAddressLimit)
                                return true
                            } catch DomainError.rateLimited(let detail, _) {
                                // Refused for the limits, not for a start that lost its slot.
                                #expect(!detail.contains("starting at once"), "\(detail)")
                                return false
                            } catch {
                                Issue.record("a start failed otherwise: \(error)")
                                return false
                            }
                        }
                    }
                    return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
                }
            }
            let startedOfTwenty = await start(20, named: "demo-all", from: { "192.0.2.\($0 + 1)" }, limit: 5, perAddressLimit: 3)
            #expect(startedOfTwenty == 5)
            #expect(try await first.activeDemoCount() == 5)
            let startedOfTwelve = await start(12, named: "demo-one", from: { _ in "198.51.100.7" }, limit: 100, perAddressLimit: 3)
            #expect(startedOfTwelve == 3)
            #expect(try await second.activeDemoCount() == 8)
            // One whose clean-up has begun no longer counts: one more may start from that address, and no second.
            let running = try await first.demos(userID: nil, limit: 100).filter { $0.status == .active && $0.clientAddress == "198.51.100.7" }
            let ending = try #require(running.first)
            #expect(
                try await second.claimCleanup(id: ending.id, replica: "r1", endingAs: .ended, at: Self.now(), leaseUntil: Self.now(plus: 60))
                    != nil)
            #expect(await start(4, named: "demo-again", from: { _ in "198.51.100.7" }, limit: 100, perAddressLimit: 3) == 1)
            #expect(try await first.activeDemoCount() == 8)
        }
    }

    /// A demo's expiry moves only from the one its extension was judged on, and only while it is
    /// active: of two extensions judged on the same expiry, one moves it (`DemoLifecycle.extend`).
    @Test(arguments: StoreKind.allCases)
    func anExtensionMovesTheExpiryItWasJudgedOn(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            let demo = DemoSession(
                id: "demo-x", userID: "usr-x", workspaceID: "ws-browser", workspaceType: "browser", contactEmail: nil,
                clientAddress: "192.0.2.1", createdAt: Self.now(), expiresAt: Self.now(plus: 1_800), maxExpiresAt: Self.now(plus: 7_200))
            try await store.insert(demo, limit: 10, perAddressLimit: 10)
            let judged = try #require(try await store.demo(id: "demo-x")).expiresAt
            let target = Self.now(plus: 2_400)
            let moved = try #require(try await store.extend(id: "demo-x", from: judged, to: target))
            #expect(moved.expiresAt == target)
            #expect(moved.id == "demo-x" && moved.status == .active)
            // A second extension judged on the expiry before the first moved it: nothing changes.
            #expect(try await store.extend(id: "demo-x", from: judged, to: Self.now(plus: 3_000)) == nil)
            #expect(try await store.demo(id: "demo-x")?.expiresAt == moved.expiresAt)
            #expect(try await store.extend(id: "demo-nobody", from: judged, to: Self.now(plus: 3_000)) == nil)
            // Once its cleanup is claimed it is no longer active: no extension.
            let current = try #require(try await store.demo(id: "demo-x")).expiresAt
            _ = try #require(
                try await store.claimCleanup(id: "demo-x", replica: "r1", endingAs: .ended, at: Self.now(), leaseUntil: Self.now(plus: 60)))
            #expect(try await store.extend(id: "demo-x", from: current, to: Self.now(plus: 3_000)) == nil)
            #expect(try await store.demo(id: "demo-x")?.expiresAt == current)
        }
    }

    /// What provisioning returned is kept only while the demo is active: a demo ended meanwhile
    /// keeps nothing, and its start hands nothing out (`DemoLifecycle.start`).
    @Test(arguments: StoreKind.allCases)
    func provisioningIsRecordedOnlyOnAnActiveDemo(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            var demo = DemoSession(
                id: "demo-p", userID: "usr-p", workspaceID: "ws-browser", workspaceType: "browser", contactEmail: nil,
                clientAddress: "192.0.2.1", createdAt: Self.now(), expiresAt: Self.now(plus: 1_800), maxExpiresAt: Self.now(plus: 7_200))
            try await store.insert(demo, limit: 10, perAddressLimit: 10)
            let extended = try #require(try await store.extend(id: "demo-p", from: demo.expiresAt, to: Self.now(plus: 2_400)))
            demo.connectionURL = "https://kasm.example.com/s/p"
            demo.networkPeerID = "peer-p"
            let recorded = try #require(try await store.recordProvisioning(of: demo))
            #expect(recorded.connectionURL == demo.connectionURL && recorded.networkPeerID == "peer-p")
            #expect(recorded.expiresAt == extended.expiresAt, "as stored, with the extension made meanwhile")
            _ = try #require(
                try await store.claimCleanup(id: "demo-p", replica: "r1", endingAs: .ended, at: Self.now(), leaseUntil: Self.now(plus: 60)))
            demo.connectionURL = "https://kasm.example.com/s/late"
            #expect(try await store.recordProvisioning(of: demo) == nil)
            #expect(try await store.demo(id: "demo-p")?.connectionURL == "https://kasm.example.com/s/p")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func organizations(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            try await store.insert(Organization(id: "org-b", name: "Beta", domain: nil, createdAt: Self.now()))
            try await store.insert(Organization(id: "org-a", name: "alpha", domain: "alpha.example", createdAt: Self.now()))
            await #expect(throws: DomainError.self) {
                try await store.insert(Organization(id: "org-c", name: "BETA", domain: nil, createdAt: Self.now()))
            }
            #expect(try await store.organization(named: "ALPHA")?.id == "org-a")
            #expect(try await store.organizations().map(\.id) == ["org-a", "org-b"])
        }
    }

    /// A workspace's stream upstream (issue #17) is kept as written, read back by id and in the
    /// list, replaced and removed by an update; the default catalogue has none.
    @Test(arguments: StoreKind.allCases)
    func workspaceStreamUpstreams(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            #expect(try await store.workspaces().allSatisfy { $0.streamUpstream == nil })
            var streamed = DefaultCatalogue.workspaces(at: Self.now())[0]
            streamed.id = "ws-streamed"
            streamed.streamUpstream = "wss://kasm.lab.example:443/websockify?token=a%20b"
            try await store.insert(streamed)
            #expect(try await store.workspace(id: "ws-streamed") == streamed)
            #expect(try await store.workspaces().first { $0.id == "ws-streamed" } == streamed)

            streamed.streamUpstream = "vnc://[fd00::5]:5901"
            try await store.update(streamed)
            #expect(try await store.workspace(id: "ws-streamed")?.streamUpstream == "vnc://[fd00::5]:5901")
            streamed.streamUpstream = nil
            streamed.updatedAt = Self.now(plus: 1)
            try await store.update(streamed)
            #expect(try await store.workspace(id: "ws-streamed") == streamed)
            streamed.streamUpstream = "vnc://10.0.0.5:5900"
            try await store.update(streamed)
            #expect(try await store.workspace(id: "ws-streamed") == streamed)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func workspaces(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            let catalogue = DefaultCatalogue.workspaces(at: Self.now()).map(\.id)
            #expect(try await store.workspaces().map(\.id) == catalogue, "seeded in catalogue order")

            var custom = DefaultCatalogue.workspaces(at: Self.now())[0]
            custom.id = "ws-custom"
            custom.allowedRoles = [.user, .demoUser]
            try await store.insert(custom)
            await #expect(throws: DomainError.self) { try await store.insert(custom) }
            #expect(try await store.workspaces().map(\.id) == catalogue + ["ws-custom"])
            #expect(try await store.workspace(id: "ws-custom") == custom)

            custom.status = .maintenance
            custom.name = "Renamed"
            try await store.update(custom)
            #expect(try await store.workspace(id: "ws-custom") == custom)
            var ghost = custom
            ghost.id = "ws-ghost"
            await #expect(throws: DomainError.notFound("Workspace not found")) { try await store.update(ghost) }

            let user = Self.user("u@example.com")
            try await store.insert(user, creating: nil)
            let onCustom = Self.session(for: user, on: "ws-custom")
            let onLinux = Self.session(for: user, on: "ws-linux-desktop")
            try await store.start(onCustom, limit: 3)
            try await store.start(onLinux, limit: 3)

            let ended = try #require(try await store.delete(id: "ws-custom", ending: .workspaceDeleted, at: Self.now()))
            #expect(ended.map(\.id) == [onCustom.id])
            #expect(ended.first?.endReason == "workspace_deleted" && ended.first?.status == .terminated)
            #expect(try await store.delete(id: "ws-custom", ending: .workspaceDeleted, at: Self.now()) == nil)

            try await store.insert(custom)
            try await store.start(Self.session(for: user, on: "ws-custom"), limit: 3)
            let reset = try await store.replaceAll(
                with: DefaultCatalogue.workspaces(at: Self.now()), ending: .workspacesReset, at: Self.now())
            #expect(reset.map(\.workspaceID) == ["ws-custom"], "only sessions on removed workspaces end")
            #expect(try await store.workspaces().map(\.id) == catalogue)
            #expect(try await store.session(id: onLinux.id)?.status == .active)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func sessionLifecycle(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            let org = Organization(id: "org-s", name: "S", domain: nil, createdAt: Self.now())
            let user = Self.user("s@example.com", organizationID: org.id)
            let other = Self.user("o@example.com")
            try await store.insert(user, creating: org)
            try await store.insert(other, creating: nil)

            let first = Self.session(for: user, at: Self.now(plus: -3))
            let second = Self.session(for: user, on: "ws-secure-browser", at: Self.now(plus: -2))
            let third = Self.session(for: user, at: Self.now(plus: -1))
            for session in [first, second, third] { try await store.start(session, limit: 3) }
            await #expect(throws: DomainError.self) { try await store.start(Self.session(for: user), limit: 3) }
            try await store.start(Self.session(for: other), limit: 3)

            #expect(try await store.session(id: first.id) == first)
            #expect(try await store.activeCount(userID: user.id) == 3)
            #expect(try await store.activeCountsByWorkspace() == ["ws-linux-desktop": 3, "ws-secure-browser": 1])
            #expect(try await store.activeCount(organizationID: org.id) == 3)
            #expect(try await store.activeCount(organizationID: nil) == 4)
            #expect(try await store.sessions(userID: user.id, status: nil, limit: 10).map(\.id) == [third.id, second.id, first.id])
            #expect(try await store.sessions(userID: nil, status: .active, limit: 2).count == 2)

            let stopped = try #require(try await store.end(userID: user.id, workspaceID: "ws-linux-desktop", .stopped, at: Self.now()))
            #expect(stopped.id == third.id, "stop ends the newest")
            #expect(stopped.status == .terminated && stopped.endReason == "stopped" && stopped.endedAt != nil)
            #expect(try await store.session(id: third.id) == stopped, "the answer is the session as stored, to the time")

            let disconnected = try await store.end(id: first.id, .disconnected, at: Self.now())
            #expect(disconnected?.status == .disconnected)
            #expect(try await store.end(id: first.id, .disconnected, at: Self.now()) == nil, "a final state never moves")
            #expect(try await store.end(id: "ses-ghost", .disconnected, at: Self.now()) == nil)

            // Ending frees slots: two more fit under the limit again.
            try await store.start(Self.session(for: user), limit: 3)
            try await store.start(Self.session(for: user), limit: 3)
            await #expect(throws: DomainError.self) { try await store.start(Self.session(for: user), limit: 3) }

            let all = try await store.endAll(userID: user.id, .logout, at: Self.now())
            #expect(all.count == 3 && all.allSatisfy { $0.status == .terminated && $0.endReason == "logout" })
            #expect(try await store.endAll(userID: user.id, .logout, at: Self.now()).isEmpty)
            #expect(try await store.activeCount(userID: user.id) == 0)
            #expect(try await store.activeCount(userID: other.id) == 1)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func sessionLimitHoldsUnderConcurrentStarts(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            let user = Self.user("race@example.com")
            try await store.insert(user, creating: nil)
            let results = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<12 {
                    group.addTask { (try? await store.start(Self.session(for: user), limit: 3)) != nil }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(results.filter { $0 }.count == 3)
            #expect(try await store.activeCount(userID: user.id) == 3)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func tokens(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            let now = Self.now()
            let live = AccessToken(digest: "a1", userID: "usr-1", issuedAt: now, expiresAt: now + 3_600, mfaVerified: true)
            let other = AccessToken(
                digest: "a2", userID: "usr-1", issuedAt: now, expiresAt: now + 3_600, mfaVerified: false,
                claims: ["netbird_peer_id", "email", "urn:zitadel:iam:org:project:roles"])
            // Expired, but younger than a day past expiry: MongoDB's TTL monitor (which runs on its
            // own schedule) leaves both alone, so only `purgeExpired` removes the older one.
            let expired = AccessToken(digest: "a3", userID: "usr-1", issuedAt: now - 7_200, expiresAt: now - 60, mfaVerified: false)
            let ancient = AccessToken(digest: "a4", userID: "usr-2", issuedAt: now - 7_200, expiresAt: now - 3_000, mfaVerified: false)
            for token in [live, other, expired, ancient] { try await store.insert(token) }
            #expect(try await store.token(digest: "a1") == live)
            #expect(try await store.token(digest: "a2") == other, "a provider sign-in's claims kept")
            #expect(try await store.token(digest: "nope") == nil)

            #expect(try await store.revoke(digest: "a1", at: now))
            #expect(try await !store.revoke(digest: "a1", at: now), "already revoked")
            #expect(try await store.token(digest: "a1")?.isValid(at: now) == false)
            #expect(try await store.revokeAll(userID: "usr-1", at: now) == 1, "only live, unrevoked tokens")
            #expect(try await store.purgeExpired(before: now - 1_000) == 1)
            #expect(try await store.token(digest: "a4") == nil)
            #expect(try await store.token(digest: "a3") != nil)
            // A demo extended: its live tokens follow; an expired one stays dead.
            let fresh = AccessToken(digest: "a5", userID: "usr-1", issuedAt: now, expiresAt: now + 60, mfaVerified: false)
            try await store.insert(fresh)
            try await store.setExpiry(userID: "usr-1", to: now + 7_200, at: now)
            #expect(try await store.token(digest: "a5")?.expiresAt == now + 7_200)
            #expect(try await store.token(digest: "a3")?.isValid(at: now) == false, "not brought back to life")
        }
    }

    @Test("many tokens, accounts and organisations read at once: those that exist, each once, in chunks", arguments: StoreKind.allCases)
    func readsByKeys(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            let now = Self.now()
            let org = Organization(id: "org-many", name: "Many", domain: nil, createdAt: now)
            let alice = Self.user("alice@many.example", organizationID: org.id)
            let bob = Self.user("bob@many.example", disabled: true)
            try await store.insert(alice, creating: org)
            try await store.insert(bob, creating: nil)
            // More than one statement's worth (500 keys), one of them revoked.
            let digests = (0..<520).map { "many-\($0)" }
            for digest in digests {
                try await store.insert(AccessToken(digest: digest, userID: alice.id, issuedAt: now, expiresAt: now + 600, mfaVerified: false))
            }
            #expect(try await store.revoke(digest: "many-7", at: now))
            let read = try await store.tokens(digests: digests + ["many-3", "absent"])
            #expect(read.count == 520 && Set(read.map(\.digest)) == Set(digests), "each stored one once, the absent one left out")
            #expect(read.first { $0.digest == "many-7" }?.revokedAt == now, "revoked ones too")
            #expect(read.first { $0.digest == "many-3" } == (try await store.token(digest: "many-3")))
            #expect(try await store.tokens(digests: []).isEmpty)

            // With their accounts, read together: the same tokens and accounts as read apart.
            try await store.insert(AccessToken(digest: "bobs", userID: bob.id, issuedAt: now, expiresAt: now + 600, mfaVerified: true))
            try await store.insert(AccessToken(digest: "nobodys", userID: "usr-absent", issuedAt: now, expiresAt: now + 600, mfaVerified: false))
            let asked = digests + ["bobs", "nobodys", "many-3", "absent"]
            let held = try await store.tokensWithHolders(digests: asked)
            #expect(held.count == 522, "each stored token once, the absent one left out")
            let apart = try await store.tokens(digests: asked)
            #expect(held.map(\.token).sorted { $0.digest < $1.digest } == apart.sorted { $0.digest < $1.digest })
            for (token, holder) in held {
                switch token.digest {
                case "bobs": #expect(holder == bob)
                case "nobodys": #expect(holder == nil, "a token whose account is gone has no holder")
                default: #expect(holder == alice, "\(token.digest)")
                }
            }
            #expect(try await store.tokensWithHolders(digests: []).isEmpty)

            let users = try await store.users(ids: [alice.id, bob.id, alice.id, "usr-absent"])
            #expect(users.sorted { $0.id < $1.id } == [alice, bob].sorted { $0.id < $1.id })
            #expect(try await store.users(ids: []).isEmpty)
            #expect(try await store.organizations(ids: [org.id, "org-absent"]) == [org])
            #expect(try await store.organizations(ids: []).isEmpty)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func audit(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            let org = Organization(id: "org-a", name: "A", domain: nil, createdAt: Self.now())
            let member = Self.user("m@example.com", organizationID: org.id)
            try await store.insert(member, creating: org)
            let base = Self.now(plus: -100)
            let events = [
                AuditEvent(timestamp: base, userID: member.id, userEmail: member.email, action: .login, ipAddress: "192.0.2.1", success: true),
                AuditEvent(timestamp: base + 10, userID: "usr-x", userEmail: "x@example.com", action: .login, ipAddress: nil, success: true),
                AuditEvent(
                    timestamp: base + 20, userID: nil, userEmail: "who@example.com", action: .loginFailed,
                    resourceType: "user", resourceID: "usr-?", details: ["reason": "unknown_email", "z": "1"], ipAddress: "192.0.2.9",
                    success: false),
                AuditEvent(
                    timestamp: base + 30, userID: member.id, userEmail: member.email, action: .launchWorkspace, ipAddress: "192.0.2.1", success: true),
            ]
            var stored: [AuditEvent] = []
            for event in events { stored.append(try await store.append(event)) }
            #expect(stored.map(\.seal?.seq) == [1, 2, 3, 4])
            #expect(try await store.events(AuditQuery()) == stored.reversed(), "newest first, every field kept")
            #expect(try await store.events(AuditQuery(action: .login)).count == 2)
            #expect(try await store.events(AuditQuery(userID: member.id)).count == 2)
            #expect(try await store.events(AuditQuery(success: false)).map(\.action) == [.loginFailed])
            #expect(try await store.events(AuditQuery(since: base + 10, until: base + 20)).count == 2)
            #expect(try await store.events(AuditQuery(limit: 1)).map(\.action) == [.launchWorkspace])
            #expect(try await store.count(of: [.login], since: base, scope: .everyone) == 2)
            #expect(try await store.count(of: [.login], since: base + 1, scope: .everyone) == 1)
            #expect(try await store.count(of: [.login], since: base, scope: .organization(org.id)) == 1)
            #expect(try await store.count(of: [.login], since: base, scope: .user(member.id)) == 1)
            #expect(try await store.count(of: [.login], since: base, scope: .user("usr-nobody")) == 0)
            // Several actions in one count (the dashboard's sign-ins: password and provider).
            let counted: [AuditAction] = [.login, .launchWorkspace]
            #expect(try await store.count(of: counted, since: base, scope: .everyone) == 3)
            #expect(try await store.count(of: counted, since: base + 1, scope: .organization(org.id)) == 1)
            #expect(try await store.count(of: counted, since: base, scope: .user(member.id)) == 2)
            #expect(try await store.count(of: [], since: base, scope: .everyone) == 0)
            // What the dashboard's chart reads: actions and times only, newest first, in scope.
            let chart: [AuditAction] = [.login, .launchWorkspace]
            #expect(
                try await store.occurrences(of: chart, since: base, scope: .everyone, limit: 10)
                    == [
                        AuditOccurrence(action: .launchWorkspace, at: base + 30), AuditOccurrence(action: .login, at: base + 10),
                        AuditOccurrence(action: .login, at: base),
                    ])
            #expect(try await store.occurrences(of: chart, since: base + 5, scope: .user(member.id), limit: 10).map(\.action) == [.launchWorkspace])
            #expect(try await store.occurrences(of: chart, since: base, scope: .organization(org.id), limit: 10).count == 2)
            #expect(try await store.occurrences(of: chart, since: base, scope: .everyone, limit: 1).map(\.at) == [base + 30])
            #expect(try await store.occurrences(of: [], since: base, scope: .everyone, limit: 10).isEmpty)
            _ = try await store.append(
                AuditEvent(timestamp: base + 40, userID: member.id, userEmail: member.email, action: .launchWorkspace, ipAddress: nil, success: false)
            )
            #expect(
                try await store.occurrences(of: chart, since: base, scope: .everyone, limit: 1).map(\.at) == [base + 30],
                "a refused launch is not a launch")
        }
    }

    /// The dashboard's one read (`Store.overview`) answers what its parts answer one by one, for
    /// every scope, with entries, with none, and with filters on the newest entries.
    @Test(arguments: StoreKind.allCases)
    func overviewReadsWhatItsPartsRead(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            let org = Organization(id: "org-o", name: "O", domain: nil, createdAt: Self.now())
            let member = Self.user("om@example.com", organizationID: org.id, mfa: true)
            let other = Self.user("oo@example.com", organizationID: org.id)
            let loner = Self.user("ol@example.com")
            let gone = Self.user("og@example.com", organizationID: org.id, mfa: true, disabled: true)
            try await store.insert(member, creating: org)
            for user in [other, loner, gone] { try await store.insert(user, creating: nil) }
            let base = Self.now(plus: -1_000)
            func queries() -> [OverviewQuery] {
                let signIns: [AuditAction] = [.login, .ssoLogin]
                return [
                    OverviewQuery(
                        counts: [.init(signIns, since: base, scope: .everyone), .init([.loginFailed], since: base + 15, scope: .everyone)],
                        users: .everyone, countsOrganizations: true, recent: AuditQuery(limit: 10)),
                    OverviewQuery(
                        counts: [.init(signIns, since: base, scope: .organization(org.id))], users: .organization(org.id),
                        recent: AuditQuery(userID: member.id, limit: 10)),
                    OverviewQuery(counts: [.init(signIns, since: base + 5, scope: .user(loner.id))], recent: AuditQuery(userID: loner.id, limit: 2)),
                    OverviewQuery(counts: [.init([], since: base, scope: .everyone)], users: .organization("org-none")),
                    OverviewQuery(recent: AuditQuery(action: .login, success: true, since: base + 1, until: base + 40, limit: 3)),
                    OverviewQuery(users: .organization("")),
                    OverviewQuery(),
                ]
            }
            // Before any entry: the figures, and no newest entries.
            for query in queries() {
                #expect(try await store.overview(query) == (try await store.overviewInParts(query)), "\(query)")
            }
            #expect(try await store.overview(queries()[0]).recent.isEmpty)
            for (index, user) in [member, other, loner, member, loner, other, member].enumerated() {
                let action: AuditAction = index % 3 == 2 ? .loginFailed : index % 2 == 0 ? .login : .ssoLogin
                try await store.append(
                    AuditEvent(
                        timestamp: base + Double(index * 10), userID: user.id, userEmail: user.email, action: action, ipAddress: nil,
                        success: action != .loginFailed))
            }
            // Two entries at one time, newer than the rest: on the embedded store the later written
            // lists first (by seq), through the join too; MongoDB orders a time's entries its own way.
            var tied: [AuditEvent] = []
            for _ in 0..<2 {
                tied.append(
                    try await store.append(
                        AuditEvent(
                            timestamp: base + 65, userID: member.id, userEmail: member.email, action: .logout, ipAddress: nil,
                            success: true)))
            }
            for query in queries() {
                let whole = try await store.overview(query)
                #expect(whole == (try await store.overviewInParts(query)), "\(query)")
            }
            let everyone = try await store.overview(queries()[0])
            #expect(everyone.counts == [5, 2])
            #expect((everyone.activeUsers, everyone.activeUsersWithMFA, everyone.organizations) == (3, 1, 1))
            if kind == .embedded {
                #expect(everyone.recent.prefix(2).map(\.id) == [tied[1].id, tied[0].id], "of two at one time, the later first")
            }
            #expect(Set(everyone.recent.prefix(2).map(\.id)) == Set(tied.map(\.id)))
            #expect(
                everyone.recent.dropFirst(2).map(\.timestamp) == (0..<7).reversed().map { base + Double($0 * 10) }, "newest first")
            let organization = try await store.overview(queries()[1])
            #expect(organization.counts == [4] && organization.activeUsers == 2 && organization.recent.count == 5)
        }
    }

    @Test("audit pages: each continues after the last entry of the one before, ties on the timestamp included", arguments: StoreKind.allCases)
    func auditPages(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            let base = Self.now(plus: -1_000)
            // 25 entries, three to a timestamp: the order within a timestamp is the store's own.
            for index in 0..<25 {
                try await store.append(
                    AuditEvent(
                        timestamp: base + Double(index / 3), userID: index % 2 == 0 ? "usr-even" : "usr-odd", userEmail: nil,
                        action: index % 5 == 0 ? .logout : .login, ipAddress: nil, success: true))
            }
            let all = try await store.events(AuditQuery(limit: 500))
            #expect(all.count == 25)
            var paged: [AuditEvent] = []
            for try await page in AuditPages(store: store, query: AuditQuery(), pageSize: 4) {
                #expect(!page.isEmpty && page.count <= 4)
                paged += page
            }
            #expect(paged == all, "every entry once, in the list's order")
            var evenLogins: [AuditEvent] = []
            for try await page in AuditPages(store: store, query: AuditQuery(action: .login, userID: "usr-even"), pageSize: 3) {
                evenLogins += page
            }
            #expect(evenLogins == all.filter { $0.action == .login && $0.userID == "usr-even" })
            let afterFifth = try await store.events(AuditQuery(before: all[4].id, limit: 500))
            #expect(afterFifth == Array(all.dropFirst(5)))
            #expect(try await store.events(AuditQuery(before: "aud-not-there")).isEmpty)
            // A page's ids alone, as the list reads them before the entries it has not kept.
            for query in [
                AuditQuery(limit: 500), AuditQuery(limit: 4), AuditQuery(action: .login, userID: "usr-even"),
                AuditQuery(success: false), AuditQuery(before: all[4].id, limit: 7),
                AuditQuery(since: base + 2, until: base + 5), AuditQuery(before: "aud-not-there"),
            ] {
                #expect(try await store.eventIDs(query) == store.events(query).map(\.id), "\(query)")
            }
            let chosen = [all[3].id, all[0].id, all[24].id]
            #expect(
                try await store.events(ids: chosen + ["aud-not-there"]).sorted { $0.id < $1.id }
                    == [all[0], all[3], all[24]].sorted { $0.id < $1.id },
                "the entries asked for, every field, and none for an id that names none")
            #expect(try await store.events(ids: []).isEmpty)
        }
    }

    @Test("audit details round-trip whatever their characters", arguments: StoreKind.allCases)
    func auditDetailsRoundTrip(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            let texts = [
                "", "quote \" backslash \\ slash /", "line\nbreak\r\ttab\u{08}\u{0C}\u{01}\u{1F}\u{7F}", "ünïcødé 🔐 \u{2028}",
                "{\"nested\": [1, 2]}", "\\u0041",
            ]
            let details = Dictionary(uniqueKeysWithValues: texts.enumerated().map { ("k\($0.offset) \($0.element)", $0.element) })
            let event = AuditEvent(
                timestamp: Self.now(), userID: nil, userEmail: nil, action: .login, details: details, ipAddress: nil, success: true)
            try await store.append(event)
            #expect(try await store.events(AuditQuery()).first?.details == details)
        }
    }

    @Test("FlatJSONObject reads what JSONDecoder reads, or declines")
    func flatJSONObjects() throws {
        let documents = [
            #"{}"#, #"{"a":"b"}"#, #" { "a" : "b" , "c":"\u00e9\ud83d\udd10\n\"\/" } "#, #"{"a":"b",}"#, #"{"a":1}"#,
            #"{"a":"b"} x"#, #"{"a":"\ud83d"}"#, #"{"a":"b","a":"c"}"#, #"{"a":"\x"}"#, "{\"a\":\"\u{01}\"}", #"["a"]"#, "",
            #"{"a":"b""#, #"{"a":null}"#, #"{"é":"ü"}"#,
        ]
        for document in documents {
            let reference = try? JSONDecoder().decode([String: String].self, from: Data(document.utf8))
            if let read = FlatJSONObject.decode(document) {
                #expect(read == reference, "\(document)")
            }
        }
        #expect(FlatJSONObject.decode(#"{"a":"b","c":"d"}"#) == ["a": "b", "c": "d"])
        #expect(FlatJSONObject.decode(#"{"a":1}"#) == nil)
    }

    @Test(arguments: StoreKind.allCases)
    func policies(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            let defaults = DefaultCatalogue.policies(at: Self.now())
            #expect(try await store.policies().map(\.id) == defaults.map(\.id))
            #expect(try await store.setEnabled(id: "pol-mfa-required", false, at: Self.now())?.enabled == false)
            try await store.insertMissing(defaults)
            #expect(try await store.policy(id: "pol-mfa-required")?.enabled == false, "seeding keeps changes")
            #expect(try await store.setEnabled(id: "pol-mfa-required", nil, at: Self.now())?.enabled == true)
            #expect(try await store.setEnabled(id: "pol-missing", nil, at: Self.now()) == nil)

            // Eleven concurrent toggles are eleven flips in some order: each sees the state the one
            // before it left, so six answer the opposite of where it began and five the same, and it
            // ends flipped. A lost update (two toggles reading the same state) breaks the counts.
            let before = try #require(try await store.policy(id: "pol-session-recording")).enabled
            let answers = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<11 {
                    group.addTask { try #require(try await store.setEnabled(id: "pol-session-recording", nil, at: Self.now())).enabled }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(answers.filter { $0 != before }.count == 6)
            #expect(answers.filter { $0 == before }.count == 5)
            #expect(try await store.policy(id: "pol-session-recording")?.enabled == !before)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func theLastAdministratorRemainsUnderConcurrentDemotions(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            // Ten rounds of the race the check-then-act rule lost: two administrators, each
            // demoted (or disabled) at the same moment. One change may win; never both.
            for round in 0..<10 {
                let first = Self.user("first-\(round)@example.com", role: .admin)
                let second = Self.user("second-\(round)@example.com", role: .admin)
                try await store.insert(first, creating: nil)
                try await store.insert(second, creating: nil)
                var demoted = first
                demoted.role = .user
                var disabled = second
                disabled.disabled = true
                let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                    for (change, before) in [(demoted, first), (disabled, second)] {
                        group.addTask {
                            do {
                                try await store.updateKeepingAnAdministrator(change, from: before)
                                return true
                            } catch let error as DomainError {
                                #expect(error == .lastAdministrator)
                                return false
                            }
                        }
                    }
                    return try await group.reduce(into: [Bool]()) { $0.append($1) }
                }
                #expect(outcomes.filter { $0 }.count == 1, "round \(round): exactly one of the two changes wins")
                #expect(try await store.activeAdminCount() == 1, "round \(round)")
                // Retire the round's pair, so the next round's two are the only active administrators.
                for user in [first, second] {
                    var restored = try #require(try await store.user(id: user.id))
                    restored.role = .user
                    restored.disabled = true
                    try await store.update(restored)
                }
            }
            // Changing an account that is no administrator never needs one, even with none left.
            let original = Self.user("plain@example.com", role: .user)
            try await store.insert(original, creating: nil)
            var plain = original
            plain.role = .neosc
            try await store.updateKeepingAnAdministrator(plain, from: original)
            #expect(try await store.user(id: plain.id)?.role == .neosc)

            // A change that keeps an administrator, or makes one, always passes.
            let only = Self.user("only@example.com", role: .admin)
            try await store.insert(only, creating: nil)
            var renamed = only
            renamed.name = "Still admin"
            try await store.updateKeepingAnAdministrator(renamed, from: only)
            var demoted = renamed
            demoted.role = .neosc
            await #expect(throws: DomainError.lastAdministrator) {
                try await store.updateKeepingAnAdministrator(demoted, from: renamed)
            }
            #expect(try await store.user(id: only.id)?.role == .admin)
        }
    }

    /// Two changes made from the same copy of an account, of different fields (an administrator
    /// changing the role while another disables it; a provider renaming it meanwhile): each
    /// writes only its own fields, so neither undoes the other.
    @Test(arguments: StoreKind.allCases)
    func changesOfDifferentFieldsFromOneCopyAreBothKept(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            let original = Self.user("both@example.com", role: .user)
            try await store.insert(original, creating: nil)
            var promoted = original
            promoted.role = .neosc
            var disabled = original
            disabled.disabled = true
            var renamed = original
            renamed.name = "Renamed by the provider"
            try await store.updateKeepingAnAdministrator(promoted, from: original)
            try await store.updateKeepingAnAdministrator(disabled, from: original)
            try await store.updateKeepingAnAdministrator(renamed, from: original)
            let stored = try #require(try await store.user(id: original.id))
            #expect(stored.role == .neosc && stored.disabled && stored.name == "Renamed by the provider")

            // A change from a stale copy that re-enables nothing it did not change: a sign-in
            // racing a disabling cannot enable the account again.
            var relinked = original
            relinked.ssoProvider = "https://idp.example"
            relinked.ssoSubject = "subject-1"
            try await store.updateKeepingAnAdministrator(relinked, from: original)
            #expect(try await store.user(id: original.id)?.disabled == true)

            // An address proved: the mark of an account provisioned unverified goes, and an update
            // from an older copy does not bring it back.
            var unproven = Self.user("unproven@example.com")
            unproven.addressUnverified = true
            try await store.insert(unproven, creating: nil)
            #expect(try await store.user(id: unproven.id)?.addressUnverified == true)
            var proved = unproven
            proved.addressUnverified = false
            try await store.updateKeepingAnAdministrator(proved, from: unproven)
            #expect(try await store.user(id: unproven.id)?.addressUnverified == false)
            try await store.update(unproven)
            #expect(try await store.user(id: unproven.id)?.addressUnverified == false)

            // Two accounts linked and unlinked again: no sign-in left behind to collide on.
            for email in ["one@example.com", "two@example.com"] {
                let plain = Self.user(email)
                try await store.insert(plain, creating: nil)
                var linked = plain
                linked.ssoProvider = "https://idp.example"
                linked.ssoSubject = "subject-" + email
                try await store.updateKeepingAnAdministrator(linked, from: plain)
                try await store.updateKeepingAnAdministrator(plain, from: linked)
                #expect(try await store.user(id: plain.id)?.ssoSubject == nil)
            }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func passwordResetStateAndRevokingAllButOneToken(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            var user = Self.user("reset@example.com")
            user.mustChangePassword = true
            try await store.insert(user, creating: nil)
            #expect(try await store.user(id: user.id)?.mustChangePassword == true)
            let stamp = Self.now()
            #expect(
                try await store.setPassword(userID: user.id, hash: "$2b$10$new", mustChange: false, at: stamp, requireEnabled: true, replacing: nil))
            let changed = try #require(try await store.user(email: user.email))
            #expect(changed.mustChangePassword == false && changed.passwordHash == "$2b$10$new" && changed.updatedAt == stamp)

            // An update from an older copy leaves the password as it is.
            var stale = user
            stale.name = "Renamed"
            try await store.update(stale)
            let renamed = try #require(try await store.user(id: user.id))
            #expect(renamed.name == "Renamed" && renamed.passwordHash == "$2b$10$new" && renamed.mustChangePassword == false)

            // A disabled account's password changes only when the caller says it may (a reset).
            var disabled = renamed
            disabled.disabled = true
            try await store.update(disabled)
            #expect(
                try await store.setPassword(userID: user.id, hash: "$2b$10$x", mustChange: false, at: stamp, requireEnabled: true, replacing: nil)
                    == false)
            #expect(try await store.user(id: user.id)?.passwordHash == "$2b$10$new")
            #expect(
                try await store.setPassword(userID: user.id, hash: "$2b$10$y", mustChange: true, at: stamp, requireEnabled: false, replacing: nil))
            #expect(
                try await store.setPassword(userID: "usr-nobody", hash: "h", mustChange: true, at: stamp, requireEnabled: false, replacing: nil)
                    == false)
            // Over the password a change checked only: of two changes from the same one, one is made.
            #expect(
                try await store.setPassword(
                    userID: user.id, hash: "$2b$10$z", mustChange: false, at: stamp, requireEnabled: false, replacing: "$2b$10$y"))
            #expect(
                try await store.setPassword(
                    userID: user.id, hash: "$2b$10$w", mustChange: false, at: stamp, requireEnabled: false, replacing: "$2b$10$y") == false)
            #expect(try await store.user(id: user.id)?.passwordHash == "$2b$10$z")

            let now = Self.now()
            let digests = (0..<3).map { "digest-\($0)-\(user.id)" }
            for digest in digests {
                try await store.insert(AccessToken(digest: digest, userID: user.id, issuedAt: now, expiresAt: now + 600, mfaVerified: false))
            }
            #expect(try await store.revokeAll(userID: user.id, except: digests[1], at: now) == 2)
            #expect(try await store.token(digest: digests[1])?.revokedAt == nil, "the kept one lives")
            #expect(try await store.token(digest: digests[0])?.revokedAt != nil)
            #expect(try await store.token(digest: digests[2])?.revokedAt != nil)
            #expect(try await store.revokeAll(userID: user.id, except: digests[1], at: now) == 0, "nothing left to revoke")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func noncesAreRedeemedOnceAcrossWriters(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            let now = Self.now()
            #expect(try await store.redeem(nonce: "n-1", until: now + 60, at: now))
            #expect(try await store.redeem(nonce: "n-1", until: now + 60, at: now + 59) == false, "still within its window")
            #expect(try await store.redeem(nonce: "n-1", until: now + 200, at: now + 61), "its record expired")
            // Twenty concurrent redemptions of one nonce: exactly one wins.
            let answers = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<20 { group.addTask { try await store.redeem(nonce: "n-race", until: now + 60, at: now) } }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(answers.filter { $0 }.count == 1)
            // The sweeper's purge takes expired records with the expired tokens.
            _ = try await store.purgeExpired(before: now + 10_000)
            #expect(try await store.redeem(nonce: "n-race", until: now + 60, at: now), "purged")
        }
    }

    @Test("stream tickets: taken once, by one of two at once; a session keeps its newest; expired ones swept", arguments: StoreKind.allCases)
    func streamTickets(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            let now = Self.now()
            func ticket(_ number: Int, session: String = "ses-a", at issued: Date = now) -> StreamTicket {
                StreamTicket(
                    digest: "digest-\(session)-\(number)", sessionID: session, userID: "usr-1", address: "192.0.2.7",
                    issuedAt: issued, expiresAt: issued + 10)
            }
            let first = ticket(0)
            try await store.insert(first, keeping: 8)
            #expect(try await store.takeStreamTicket(digest: first.digest) == first)
            #expect(try await store.takeStreamTicket(digest: first.digest) == nil, "used up")

            let contested = ticket(1)
            try await store.insert(contested, keeping: 8)
            async let one = store.takeStreamTicket(digest: contested.digest)
            async let other = store.takeStreamTicket(digest: contested.digest)
            #expect([try await one, try await other].compactMap { $0 } == [contested], "exactly one take gets it")

            // Ten for one session, a millisecond apart, keeping eight: the two oldest go; another
            // session's ticket stays.
            let others = ticket(0, session: "ses-b")
            try await store.insert(others, keeping: 8)
            let many = (0..<10).map {
                ticket(10 + $0, at: Date(timeIntervalSince1970: ((now.timeIntervalSince1970 * 1_000).rounded() + Double($0)) / 1_000))
            }
            for each in many { try await store.insert(each, keeping: 8) }
            for each in many.prefix(2) { #expect(try await store.takeStreamTicket(digest: each.digest) == nil) }
            for each in many.dropFirst(2) { #expect(try await store.takeStreamTicket(digest: each.digest) == each) }
            #expect(try await store.takeStreamTicket(digest: others.digest) == others)

            // Eight issued in one millisecond, then one by a replica whose clock is 5 s behind:
            // the new one stays, and one of the eight gives way.
            let tied = (0..<8).map { ticket(50 + $0, session: "ses-c") }
            for each in tied { try await store.insert(each, keeping: 8) }
            let behind = ticket(70, session: "ses-c", at: now - 5)
            try await store.insert(behind, keeping: 8)
            #expect(try await store.takeStreamTicket(digest: behind.digest) == behind, "never the ticket just issued")
            var left = 0
            for each in tied where try await store.takeStreamTicket(digest: each.digest) != nil { left += 1 }
            #expect(left == 7)

            let stale = ticket(99, at: now - 60)
            try await store.insert(stale, keeping: 8)
            _ = try await store.purgeExpired(before: now)
            #expect(try await store.takeStreamTicket(digest: stale.digest) == nil, "swept once expired")
        }
    }
}
