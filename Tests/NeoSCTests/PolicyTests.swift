import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Net
import Services
import TestSupport
import Testing

@testable import App

/// Policies as typed rules through the API: written and validated by administrators, applied to
/// sign-ins, launches and every call, each refusal explained and audited, on every store.
@Suite("Policies: typed rules written, validated, enforced, evaluated and audited")
struct PolicyTests {
    static func hours(_ fields: [String: Any] = [:], scope: [String: Any] = ["roles": ["neosc"]]) -> [String: Any] {
        [
            "id": "pol-hours", "name": "Business hours", "kind": "time_window", "enabled": true, "scope": scope,
            "settings": ["days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "18:00", "time_zone": "UTC"]
                .merging(fields) { $1 },
        ]
    }

    @Test("administrators create, replace and delete policies; bad fields are refused by name; all audited", arguments: StoreKind.allCases)
    func writtenAndValidated(kind: StoreKind) async throws {
        try await Harness.run(store: kind) { harness, client in
            let admin = try await harness.account(.admin).token
            let user = try await harness.account(.user).token
            let listed = try await client.send(.get, "/api/policies", token: user)
            #expect(listed.status == .ok)
            let defaults = try #require(listed.json as? [[String: Any]])
            #expect(defaults.map { $0["kind"] as? String } == ["mfa_required", "network_required", "session_recording"])
            #expect(defaults.allSatisfy { $0["enabled"] as? Bool == false }, "the refusing defaults start off")
            #expect((defaults[0]["scope"] as? [String: Any])?["roles"] as? [String] == ["admin", "neosc", "user"])

            func create(_ fields: [String: Any], token: String? = nil) async throws -> Reply {
                try await client.send(.post, "/api/policies", token: token ?? admin, json: body(fields))
            }
            #expect(try await create(Self.hours(), token: user).status == .forbidden)
            // A stranger who started a demo reads none of them (a probe: every network range and
            // organisation id they name).
            let visitor = try await harness.account(.demoUser).token
            #expect((try await client.send(.get, "/api/policies", token: visitor).json as? [Any])?.isEmpty == true)
            #expect(try await client.send(.get, "/api/policies/pol-mfa-required", token: visitor).status == .notFound)
            for (fields, field) in [
                (Self.hours().merging(["kind": "vibes"]) { $1 }, "kind"),
                (Self.hours(["time_zone": "Mars/Olympus_Mons"]), "settings.time_zone"),
                (Self.hours(["start": "18:00", "end": "08:00"]), "overnight"),
                (Self.hours(["days": ["someday"]]), "settings.days"),
                (["name": "Office", "kind": "address_allowlist", "settings": ["cidrs": ["10.0.0.0/40"]]], "settings.cidrs"),
                (["name": "Limit", "kind": "rate_limit", "settings": ["requests": 0, "per_seconds": 30]], "settings.requests"),
                (["name": "Limit", "kind": "rate_limit", "settings": ["requests": 10, "per_seconds": -5]], "settings.per_seconds"),
                (Self.hours().merging(["scope": ["roles": ["wizard"]]]) { $1 }, "roles"),
                // 65 scalars: over the documented maxLength, which counts scalars, not bytes.
                (Self.hours().merging(["scope": ["workspaces": [String(repeating: "é", count: 65)]]]) { $1 }, "scope.workspaces"),
                // A mistyped id would leave the policy covering nobody.
                (Self.hours().merging(["scope": ["organizations": ["org-nope"]]]) { $1 }, "scope.organizations: 'org-nope'"),
                (
                    Self.hours(["applies_to": "launch"]).merging(["scope": ["workspaces": ["ws-linux-desktop", "ws-nope"]]]) { $1 },
                    "scope.workspaces: 'ws-nope'"
                ),
                // Only a launch names a workspace: such a policy would apply to nothing else (a probe:
                // accepted, never applied, while `/evaluate` said it did).
                (Self.hours(["applies_to": "sign_in"]).merging(["scope": ["workspaces": ["ws-linux-desktop"]]]) { $1 }, "sign-ins"),
                (
                    [
                        "name": "Limit", "kind": "rate_limit", "settings": ["requests": 1, "per_seconds": 3600],
                        "scope": ["workspaces": ["ws-linux-desktop"]],
                    ], "rate limit"
                ),
                (Self.hours(["overnight": true]), "settings.overnight"),
            ] {
                let refused = try await create(fields)
                #expect(refused.status == .unprocessableContent, "\(field): \(refused.text)")
                #expect(refused.detail?.contains(field) == true, "\(field): \(refused.text)")
            }
            let created = try await create(Self.hours())
            #expect(created.status == .created, "\(created.text)")
            #expect(created["kind"] as? String == "time_window")
            #expect((created["settings"] as? [String: Any])?["applies_to"] as? String == "all", "the default filled in")
            #expect(try await create(Self.hours()).status == .conflict, "ids are unique")
            let generated = try await create(["name": "Limit", "kind": "rate_limit", "settings": ["requests": 3000, "per_seconds": 30]])
            #expect((generated["id"] as? String)?.hasPrefix("pol") == true, "\(generated.text)")
            // The longest workspace id (64), and a category that is any short text.
            let longest = try await client.send(
                .post, "/api/workspaces", token: admin,
                json: body(["id": String(repeating: "w", count: 64), "name": "Longest", "type": "web", "url": "/w"]))
            #expect(longest.status == .created, "\(longest.text)")
            let scoped = try await create([
                "name": "Scoped", "kind": "address_allowlist", "category": "Remote access",
                "settings": ["cidrs": ["10.0.0.0/8"], "applies_to": "launch"], "scope": ["workspaces": [String(repeating: "w", count: 64)]],
            ])
            #expect(scoped.status == .created && scoped["category"] as? String == "Remote access", "\(scoped.text)")

            let replaced = try await client.send(
                .put, "/api/policies/pol-hours", token: admin,
                json: body(Self.hours(["start": "07:30"]).filter { $0.key != "id" }))
            #expect(replaced.status == .ok, "\(replaced.text)")
            #expect((replaced["settings"] as? [String: Any])?["start"] as? String == "07:30")
            #expect(try await client.send(.get, "/api/policies/pol-hours", token: user)["settings"] != nil)
            #expect(
                try await client.send(.put, "/api/policies/pol-nothing", token: admin, json: body(Self.hours().filter { $0.key != "id" }))
                    .status == .notFound)
            #expect(
                try await client.send(.put, "/api/policies/pol-hours", token: admin, json: body(Self.hours(["start": "x"]))).status
                    == .unprocessableContent)
            #expect(try await client.send(.delete, "/api/policies/pol-hours", token: user).status == .forbidden)
            #expect(try await client.send(.delete, "/api/policies/pol-hours", token: admin).status == .ok)
            #expect(try await client.send(.delete, "/api/policies/pol-hours", token: admin).status == .notFound)

            let trail = try await harness.store.events(AuditQuery(limit: 100))
            for action in [AuditAction.createPolicy, .updatePolicy, .deletePolicy] {
                #expect(trail.contains { $0.action == action && $0.resourceID == "pol-hours" && $0.success }, "\(action)")
            }
        }
    }

    @Test("a key a policy does not have is refused by name, not dropped: at its top, in its scope and settings; evaluate and toggle too")
    func unknownKeysAreRefused() async throws {
        try await Harness.run { harness, client in
            let admin = try await harness.account(.admin).token
            let allowlist: [String: Any] = ["name": "Office", "kind": "address_allowlist", "enabled": false, "settings": ["cidrs": ["10.0.0.0/8"]]]
            for (fields, field) in [
                // Each would have made a policy for everyone, or one that checks less than asked.
                (allowlist.merging(["settings": ["cidrs": ["10.0.0.0/8"], "apply_to": "launch"]]) { $1 }, "settings.apply_to"),
                (allowlist.merging(["scope": ["role": ["user"]]]) { $1 }, "scope.role"),
                (allowlist.merging(["scopes": ["roles": ["user"]]]) { $1 }, "scopes"),
                // A number no reader holds, elsewhere in the body, hides nothing.
                (allowlist.merging(["scopes": ["roles": ["user"]], "x": "1e400"]) { $1 }, "scopes"),
            ] {
                for (method, path) in [(HTTPRequest.Method.post, "/api/policies"), (.put, "/api/policies/pol-mfa")] {
                    let json = body(fields).replacingOccurrences(of: #""1e400""#, with: "1e400")
                    let refused = try await client.send(method, path, token: admin, json: json)
                    #expect(refused.status == .unprocessableContent, "\(method) \(field): \(refused.text)")
                    #expect(refused.detail == "Field '\(field)' is not one this request takes", "\(refused.text)")
                }
            }
            let evaluated = try await client.send(
                .post, "/api/policies/evaluate", token: admin, json: body(["role": "user", "organisation_id": "org-1"]))
            #expect(evaluated.status == .unprocessableContent && evaluated.detail?.contains("'organisation_id'") == true, "\(evaluated.text)")
            let toggled = try await client.send(.patch, "/api/policies/pol-mfa", token: admin, json: #"{"enable":true,"x":1e400}"#)
            #expect(toggled.status == .unprocessableContent && toggled.detail?.contains("'enable'") == true, "\(toggled.text)")

            let policies = try #require(try await client.send(.get, "/api/policies", token: admin).json as? [[String: Any]])
            #expect(policies.count == 3 && policies.allSatisfy { $0["enabled"] as? Bool == false }, "nothing made or changed")
            let changes = try await harness.store.events(AuditQuery(limit: 100)).filter { $0.action.rawValue.hasSuffix("_policy") }
            #expect(changes.isEmpty, "\(changes.map(\.action))")
            // The keys a policy has are all taken.
            let full = try await client.send(
                .post, "/api/policies", token: admin,
                json: body(
                    allowlist.merging([
                        "id": "pol-office", "description": "d", "category": "c", "weight": 5,
                        "scope": ["roles": ["user"], "organizations": [], "workspaces": []],
                    ]) { $1 }))
            #expect(full.status == .created, "\(full.text)")
        }
    }

    @Test(
        "a replacement that leaves `enabled` out keeps the switch as it is when written, under a switch made at the same moment",
        arguments: StoreKind.allCases)
    func aReplacementKeepsAConcurrentSwitch(kind: StoreKind) async throws {
        try await Harness.run(store: kind) { harness, client in
            let admin = try await harness.account(.admin).token
            var draft = Self.hours(scope: ["roles": ["user"]])
            draft["enabled"] = nil
            draft["id"] = nil
            let replacement = body(draft)
            let created = try await client.send(.post, "/api/policies", token: admin, json: body(Self.hours(scope: ["roles": ["user"]])))
            #expect(created.status == .created, "\(created.text)")
            for round in 0..<25 {
                let off = try await client.send(.patch, "/api/policies/pol-hours", token: admin, json: #"{"enabled":false}"#)
                #expect(off.status == .ok)
                // Whichever is written first, the policy ends switched on: the switch stands, or
                // the replacement kept the switch it found off and the switch followed it.
                async let switched = client.send(.patch, "/api/policies/pol-hours", token: admin, json: #"{"enabled":true}"#)
                async let replaced = client.send(.put, "/api/policies/pol-hours", token: admin, json: replacement)
                let (switchReply, replaceReply) = try await (switched, replaced)
                #expect(switchReply.status == .ok && replaceReply.status == .ok, "\(switchReply.text) \(replaceReply.text)")
                let stored = try await harness.store.policy(id: "pol-hours")
                #expect(stored?.enabled == true, "round \(round): the switch was undone by a stale copy")
                if stored?.enabled != true { break }
            }
        }
    }

    @Test("a time window refuses calls and sign-ins outside its hours with the next opening, and only its scope", arguments: StoreKind.allCases)
    func timeWindowsAreEnforced(kind: StoreKind) async throws {
        // Tuesday 13 July 2100, 22:13 UTC.
        let clock = ManualClock(Date(timeIntervalSince1970: 4_119_200_000))
        try await Harness.run(store: kind, clock: clock.wallClock) { harness, client in
            let admin = try await harness.account(.admin).token
            let (member, token) = try await harness.account(.neosc, email: "nina@example.com")
            #expect(try await client.send(.post, "/api/policies", token: admin, json: body(Self.hours())).status == .created)

            let refused = try await client.send(.get, "/api/workspaces", token: token)
            #expect(refused.status == .forbidden, "\(refused.text)")
            #expect(refused["policy"] as? String == "pol-hours")
            #expect(refused["remedy"] as? String == "wait")
            #expect(refused["retry_at"] as? String == "2100-07-14T08:00:00Z")
            #expect(refused.detail?.contains("mon,tue,wed,thu,fri 08:00–18:00 UTC") == true, "\(refused.text)")
            let login = try await client.send(
                .post, "/api/auth/login", json: body(["email": member.email, "password": Harness.password]))
            #expect(login.status == .forbidden, "sign-ins too: \(login.text)")
            #expect(login["access_token"] == nil)
            #expect(try await client.send(.get, "/api/workspaces", token: admin).status == .ok, "administrators are out of scope")
            #expect(try await client.send(.get, "/health").status == .ok)

            clock.advance(to: Date(timeIntervalSince1970: 4_119_235_200))  // Wednesday 08:00 UTC
            // The hour-long token of last night has expired by now: the member signs in again.
            let opened = try await client.send(
                .post, "/api/auth/login", json: body(["email": member.email, "password": Harness.password]))
            #expect(opened.status == .ok, "\(opened.text)")
            let morning = try opened.decoded(SignedInBody.self).accessToken
            #expect(try await client.send(.get, "/api/workspaces", token: morning).status == .ok)

            let denied = try await harness.store.events(AuditQuery(action: .policyDenied, limit: 10))
            #expect(denied.count == 2 && denied.allSatisfy { !$0.success && $0.details["policy"] == "pol-hours" })
            #expect(Set(denied.compactMap { $0.details["stage"] }) == ["call", "sign_in"])
        }
    }

    @Test(
        "a rate limit answers 429 with Retry-After and the RateLimit fields, per user, and recovers as its bucket refills",
        arguments: StoreKind.allCases)
    func rateLimitsAreEnforced(kind: StoreKind) async throws {
        let clock = ManualClock()
        try await Harness.run(store: kind, clock: clock.wallClock) { harness, client in
            let admin = try await harness.account(.admin).token
            let user = try await harness.account(.user).token
            let other = try await harness.account(.user).token
            let limit: [String: Any] = [
                "id": "pol-slow", "name": "Slow", "kind": "rate_limit", "scope": ["roles": ["user"]],
                "settings": ["requests": 3, "per_seconds": 30, "key": "user"],
            ]
            #expect(try await client.send(.post, "/api/policies", token: admin, json: body(limit)).status == .created)
            for _ in 0..<3 { #expect(try await client.send(.get, "/api/workspaces", token: user).status == .ok) }
            let limited = try await client.send(.get, "/api/workspaces", token: user)
            #expect(limited.status == .tooManyRequests, "\(limited.text)")
            #expect(limited.headers[.retryAfter] == "10")
            #expect(limited.headers[HTTPField.Name("RateLimit-Policy")!] == "\"pol-slow\";q=3;w=30")
            #expect(limited.headers[HTTPField.Name("RateLimit")!] == "\"pol-slow\";r=0;t=10")
            #expect(limited["policy"] as? String == "pol-slow")
            #expect(try await client.send(.get, "/api/workspaces", token: user).status == .tooManyRequests)
            #expect(try await client.send(.get, "/api/workspaces", token: other).status == .ok, "one bucket per user")
            #expect(try await client.send(.get, "/health").status == .ok)
            clock.advance(10)
            #expect(try await client.send(.get, "/api/workspaces", token: user).status == .ok, "refilled by one")
            #expect(try await client.send(.get, "/api/workspaces", token: user).status == .tooManyRequests)
            let denied = try await harness.store.events(AuditQuery(action: .policyDenied, limit: 10))
            #expect(denied.count == 1, "a hammered limit is audited once a minute, not per request")
            // The two refusals after the first are counted, and written once their minute is over.
            #expect(try await harness.portal.policies.auditFoldedRefusals() == 0, "the minute is not over")
            clock.advance(50)
            // Written by this call, or by the server's own writer (every 10 s) if it came first.
            #expect(try await harness.portal.policies.auditFoldedRefusals() <= 1)
            let written = try await eventually { try await harness.store.events(AuditQuery(action: .policyDenied, limit: 10)).count == 2 }
            let folded = try await harness.store.events(AuditQuery(action: .policyDenied, limit: 10))
            #expect(written && folded.count == 2, "\(folded)")
            let counted = try #require(folded.first { $0.details["repeated"] != nil })
            #expect(counted.details["repeated"] == "2" && counted.details["policy"] == "pol-slow" && !counted.success)
            #expect(counted.details["first_at"] == "2100-07-13T22:13:20Z" && counted.details["last_at"] == "2100-07-13T22:13:30Z")
            #expect(counted.userID != nil && counted.details["stage"] == "call")
        }
    }

    @Test("launches: MFA required, a NetBird peer required, sessions recorded", arguments: StoreKind.allCases)
    func launchPolicies(kind: StoreKind) async throws {
        try await Harness.run(store: kind) { harness, client in
            let admin = try await harness.account(.admin).token
            let (member, token) = try await harness.account(.neosc)
            func enable(_ id: String) async throws {
                #expect(
                    try await client.send(.patch, "/api/policies/\(id)", token: admin, json: #"{"enabled":true}"#).status == .ok)
            }
            func launch(_ workspace: String, _ token: String) async throws -> Reply {
                try await client.send(.post, "/api/workspaces/\(workspace)/launch", token: token)
            }
            try await enable("pol-mfa-required")
            let withoutMFA = try await launch("ws-linux-desktop", token)
            #expect(withoutMFA.status == .forbidden, "\(withoutMFA.text)")
            #expect(withoutMFA["policy"] as? String == "pol-mfa-required" && withoutMFA["remedy"] as? String == "enroll_mfa")
            let (verified, digest) = BearerCredential.issue()
            let now = Date()
            try await harness.store.insert(
                AccessToken(digest: digest, userID: member.id, issuedAt: now, expiresAt: now + 3_600, mfaVerified: true))
            let launched = try await launch("ws-linux-desktop", verified)
            #expect(launched.status == .created, "\(launched.text)")
            #expect((launched["session"] as? [String: Any])?["recording"] as? Bool == false)

            try await enable("pol-network-zero-trust")
            let withoutPeer = try await launch("ws-sap-gui", verified)
            #expect(withoutPeer.status == .forbidden, "\(withoutPeer.text)")
            #expect(withoutPeer["remedy"] as? String == "connect_netbird")

            try await enable("pol-session-recording")
            let recorded = try await launch("ws-windows-rdp", verified)
            #expect(recorded.status == .created, "\(recorded.text)")
            #expect((recorded["session"] as? [String: Any])?["recording"] as? Bool == true)
            let sessionID = try #require(recorded["session_id"] as? String)
            #expect(try await harness.store.session(id: sessionID)?.recording == true)
            let launches = try await harness.store.events(AuditQuery(action: .launchWorkspace, limit: 10))
            #expect(launches.contains { $0.details["session_id"] == sessionID && $0.details["recording"] == "true" })
            let denied = try await harness.store.events(AuditQuery(action: .policyDenied, limit: 10))
            #expect(Set(denied.compactMap { $0.details["kind"] }) == ["mfa_required", "network_required"])
        }
    }

    @Test(
        "an address allow-list judges the client address NeoSC determines: X-Forwarded-For only from a trusted proxy", arguments: StoreKind.allCases)
    func addressAllowlists(kind: StoreKind) async throws {
        let forwarded = HTTPField.Name("X-Forwarded-For")!
        for trusted in [true, false] {
            let adjust: (inout Configuration) -> Void = {
                if trusted { $0.trustedProxies = TrustedProxies([AddressRange("127.0.0.0/8")!, AddressRange("::1")!]) }
            }
            try await Harness.run(.live, store: kind, adjust) { harness, client in
                let admin = try await harness.account(.admin).token
                let user = try await harness.account(.user).token
                let office: [String: Any] = [
                    "id": "pol-office", "name": "Office", "kind": "address_allowlist", "scope": ["roles": ["user"]],
                    "settings": ["cidrs": ["203.0.113.0/24", "2001:db8::/32"]],
                ]
                #expect(try await client.send(.post, "/api/policies", token: admin, json: body(office)).status == .created)
                func call(from address: String) async throws -> HTTPResponse.Status {
                    try await client.send(.get, "/api/workspaces", token: user, headers: [forwarded: address]).status
                }
                if trusted {
                    #expect(try await call(from: "203.0.113.7") == .ok)
                    #expect(try await call(from: "2001:db8::5") == .ok)
                    #expect(try await call(from: "198.51.100.1") == .forbidden)
                    #expect(try await call(from: "2001:db9::1") == .forbidden)
                } else {
                    #expect(try await call(from: "203.0.113.7") == .forbidden, "an untrusted peer's header is ignored")
                }
            }
        }
    }

    /// One stored before workspaces were refused where they cannot apply (another version, a
    /// replica): kept, renamed or switched off as it is, but not switched on to apply to nothing.
    @Test func aPolicyStoredScopedToWorkspacesItCannotCoverIsNotSwitchedOn() async throws {
        try await Harness.run { harness, client in
            let admin = try await harness.account(.admin).token
            try await harness.store.insert(
                Policy(
                    id: "pol-old-limit", name: "Old limit", description: "", category: "Access", enabled: false, weight: 0,
                    scope: PolicyScope(workspaces: ["ws-linux-desktop"]), rule: .rateLimit(requests: 1, perSeconds: 60, key: .user),
                    updatedAt: Date()))
            let switchedOn = try await client.send(.patch, "/api/policies/pol-old-limit", token: admin, json: #"{"enabled":true}"#)
            #expect(switchedOn.status == .unprocessableContent && switchedOn.detail?.contains("scope.workspaces") == true)
            let flipped = try await client.send(.patch, "/api/policies/pol-old-limit", token: admin, json: "{}")
            #expect(flipped.status == .unprocessableContent, "a flip of an off policy switches it on: \(flipped.text)")
            let renamed = try await client.send(
                .put, "/api/policies/pol-old-limit", token: admin,
                json: body([
                    "name": "Old limit, renamed", "kind": "rate_limit", "enabled": false, "settings": ["requests": 1, "per_seconds": 60],
                    "scope": ["workspaces": ["ws-linux-desktop"]],
                ]))
            #expect(renamed.status == .ok, "\(renamed.text)")
            // Not switched on, nor made another bad shape, by a replacement (the probe of the mends).
            for (change, fields) in [
                ("switched on", ["enabled": true, "kind": "rate_limit"]),
                ("another kind", ["enabled": false, "kind": "address_allowlist"]),
                ("more workspaces", ["enabled": false, "kind": "rate_limit", "workspaces": ["ws-linux-desktop", "ws-secure-browser"]]),
            ] as [(String, [String: any Sendable])] {
                let kind = fields["kind"] as? String ?? ""
                let refused = try await client.send(
                    .put, "/api/policies/pol-old-limit", token: admin,
                    json: body([
                        "name": "Old limit", "kind": kind, "enabled": fields["enabled"] ?? false,
                        "settings": kind == "rate_limit"
                            ? ["requests": 1, "per_seconds": 60] as [String: any Sendable]
                            : ["cidrs": ["10.0.0.0/8"], "applies_to": "sign_in"],
                        "scope": ["workspaces": fields["workspaces"] ?? ["ws-linux-desktop"]],
                    ]))
                #expect(refused.status == .unprocessableContent, "\(change): \(refused.text)")
            }
            #expect(try await client.send(.patch, "/api/policies/pol-old-limit", token: admin, json: #"{"enabled":false}"#).status == .ok)
        }
    }

    @Test("evaluate answers every enabled policy's verdict and changes nothing", arguments: StoreKind.allCases)
    func evaluation(kind: StoreKind) async throws {
        // Wednesday 14 July 2100, 09:00 UTC: within the hours, so the calls themselves pass.
        let clock = ManualClock(Date(timeIntervalSince1970: 4_119_238_800))
        try await Harness.run(store: kind, clock: clock.wallClock) { harness, client in
            let admin = try await harness.account(.admin).token
            let (member, _) = try await harness.account(.neosc)
            #expect(try await client.send(.post, "/api/policies", token: admin, json: body(Self.hours())).status == .created)
            _ = try await client.send(.patch, "/api/policies/pol-mfa-required", token: admin, json: #"{"enabled":true}"#)
            let question: [String: Any] = [
                "user_id": member.id, "workspace_id": "ws-linux-desktop", "at": "2100-07-13T22:13:20Z", "mfa_verified": false,
                "address": "192.0.2.1",
            ]
            let answer = try await client.send(.post, "/api/policies/evaluate", token: admin, json: body(question))
            #expect(answer.status == .ok, "\(answer.text)")
            #expect(answer["allowed"] as? Bool == false)
            let verdicts = try #require(answer["verdicts"] as? [[String: Any]])
            let byPolicy = Dictionary(uniqueKeysWithValues: verdicts.compactMap { v in (v["policy"] as? String).map { ($0, v) } })
            #expect(Set(byPolicy.keys) == ["pol-mfa-required", "pol-hours"], "enabled ones only")
            #expect(byPolicy["pol-mfa-required"]?["verdict"] as? String == "deny")
            #expect(byPolicy["pol-mfa-required"]?["remedy"] as? String == "enroll_mfa", "the account has no second factor")
            #expect(byPolicy["pol-hours"]?["verdict"] as? String == "deny")
            #expect(byPolicy["pol-hours"]?["retry_at"] as? String == "2100-07-14T08:00:00Z")
            #expect((byPolicy["pol-hours"]?["reason"] as? String)?.contains("outside") == true)
            let inHours = try await client.send(
                .post, "/api/policies/evaluate", token: admin,
                json: body(["role": "user", "stage": "call", "at": "2100-07-14T09:00:00Z"]))
            #expect(inHours["allowed"] as? Bool == true, "\(inHours.text)")
            // Only a launch names a workspace: a sign-in or a call about one never happens (a probe).
            for stage in ["sign_in", "call"] {
                let never = try await client.send(
                    .post, "/api/policies/evaluate", token: admin,
                    json: body(["role": "user", "stage": stage, "workspace_id": "ws-linux-desktop"]))
                #expect(never.status == .unprocessableContent && never.detail?.contains("workspace_id") == true, "\(never.text)")
            }
            #expect(
                try await client.send(.post, "/api/policies/evaluate", token: admin, json: body(["user_id": "usr-nobody"])).status
                    == .notFound)
            #expect(try await client.send(.post, "/api/policies/evaluate", token: admin, json: body([:])).status == .unprocessableContent)
            // A moment that is not one is the field's error (422), not "not JSON", and never rolled over.
            for at in ["2025-03-31", "2023-02-30T08:30:00Z", "2025-03-31T08:61:00Z", "-5000-01-01T00:00:00Z", "2025-13-01T08:30:00Z"] {
                let refused = try await client.send(
                    .post, "/api/policies/evaluate", token: admin, json: body(["role": "user", "stage": "call", "at": at]))
                #expect(refused.status == .unprocessableContent, "\(at): \(refused.text)")
                #expect(refused.detail?.contains("'at'") == true, "\(at): \(refused.text)")
            }
            let fractional = try await client.send(
                .post, "/api/policies/evaluate", token: admin, json: body(["role": "user", "stage": "call", "at": "2100-07-14T09:00:00.5Z"]))
            #expect(fractional.status == .ok, "\(fractional.text)")
            // A rate limit's verdict counts nothing: the user's own request still passes after it.
            let (limitedUser, limitedToken) = try await harness.account(.user)
            let slow: [String: Any] = [
                "id": "pol-slow", "name": "Slow", "kind": "rate_limit", "scope": ["roles": ["user"]],
                "settings": ["requests": 1, "per_seconds": 3600],
            ]
            #expect(try await client.send(.post, "/api/policies", token: admin, json: body(slow)).status == .created)
            for _ in 0..<3 {
                let limit = try await client.send(
                    .post, "/api/policies/evaluate", token: admin,
                    json: body(["user_id": limitedUser.id, "stage": "call", "at": "2100-07-14T09:00:00Z"]))
                #expect(
                    (limit["verdicts"] as? [[String: Any]])?.first { $0["policy"] as? String == "pol-slow" }?["verdict"] as? String
                        == "limit", "\(limit.text)")
            }
            #expect(try await client.send(.get, "/api/auth/me", token: limitedToken).status == .ok)
            let member2 = try await harness.account(.neosc).token
            #expect(try await client.send(.post, "/api/policies/evaluate", token: member2, json: body(question)).status == .forbidden)
            #expect(try await harness.store.events(AuditQuery(action: .policyDenied, limit: 10)).isEmpty, "evaluating refuses nothing")
        }
    }

    @Test(
        "a NetBird peer the user registered, confirmed by NetBird as connected and theirs, lets a launch through while it stays so",
        arguments: StoreKind.allCases)
    func netbirdPeers(kind: StoreKind) async throws {
        try await RecordingPeer.with { netbird in
            netbird.reply("GET /api/peers/peer-up", with: #"{"id":"peer-up","connected":true,"user_id":"nb-ned"}"#)
            netbird.reply("GET /api/peers/peer-down", with: #"{"id":"peer-down","connected":false,"user_id":"nb-ned"}"#)
            netbird.reply("GET /api/peers/peer-eve", with: #"{"id":"peer-eve","connected":true,"user_id":"nb-eve"}"#)
            netbird.reply(
                "GET /api/users", with: #"[{"id":"nb-ned","email":"Ned@example.com"},{"id":"nb-eve","email":"eve@example.com"}]"#)
            try await Harness.run(.router, store: kind, { $0.netbird = (netbird.url, Secret("netbird-token")) }) { harness, client in
                let admin = try await harness.account(.admin).token
                let (member, token) = try await harness.account(.neosc, email: "ned@example.com")
                _ = try await client.send(.patch, "/api/policies/pol-network-zero-trust", token: admin, json: #"{"enabled":true}"#)
                func register(_ peer: String) async throws -> Reply {
                    try await client.send(.post, "/api/users/me/netbird-peer", token: token, json: body(["peer_id": peer]))
                }
                #expect(try await client.send(.post, "/api/workspaces/ws-sap-gui/launch", token: token).status == .forbidden)
                #expect(try await register("peer-down").status == .unprocessableContent)
                #expect(try await register("peer-nobody").status == .unprocessableContent, "NetBird knows no such peer")
                let stolen = try await register("peer-eve")
                #expect(stolen.status == .unprocessableContent, "someone else's peer: \(stolen.text)")
                #expect(try await register("bad peer!").status == .unprocessableContent)
                let registered = try await register("peer-up")
                #expect(registered.status == .ok, "\(registered.text)")
                #expect(netbird.calls.contains { $0.path == "/api/peers/peer-up" && $0.headers["authorization"] == "Token netbird-token" })
                #expect(try await harness.store.user(id: member.id)?.netbirdPeerID == "peer-up")
                let launched = try await client.send(.post, "/api/workspaces/ws-sap-gui/launch", token: token)
                #expect(launched.status == .created, "\(launched.text)")
                _ = try await client.send(.post, "/api/workspaces/ws-sap-gui/stop", token: token)

                // The peer goes offline: the registration proves nothing any more.
                netbird.reply("GET /api/peers/peer-up", with: #"{"id":"peer-up","connected":false,"user_id":"nb-ned"}"#)
                let offline = try await client.send(.post, "/api/workspaces/ws-sap-gui/launch", token: token)
                #expect(offline.status == .forbidden, "\(offline.text)")
                #expect(offline["remedy"] as? String == "connect_netbird")

                #expect(try await client.send(.delete, "/api/users/me/netbird-peer", token: token).status == .ok)
                #expect(try await harness.store.user(id: member.id)?.netbirdPeerID == nil)
                // None left to remove: a 404, and no entry for a change that did not happen (a probe).
                #expect(try await client.send(.delete, "/api/users/me/netbird-peer", token: token).status == .notFound)
                let trail = try await harness.store.events(AuditQuery(limit: 50)).map(\.action)
                #expect(trail.contains(.netbirdPeerRegistered) && trail.filter { $0 == .netbirdPeerRemoved }.count == 1)
            }
        }
        try await Harness.run(store: kind) { harness, client in
            let token = try await harness.account(.neosc).token
            let refused = try await client.send(.post, "/api/users/me/netbird-peer", token: token, json: body(["peer_id": "peer-up"]))
            #expect(refused.status == .conflict, "without NetBird's API nothing can be checked: \(refused.text)")
        }
    }

    @Test("MFA required on every call leaves the way to MFA open: sign in, enrol, confirm, then sign in with the code", arguments: StoreKind.allCases)
    func mfaEverywhere(kind: StoreKind) async throws {
        let clock = ManualClock()
        try await Harness.run(store: kind, clock: clock.wallClock) { harness, client in
            let admin = try await harness.account(.admin).token
            let (user, token) = try await harness.account(.user, email: "wren@example.com")
            let everywhere: [String: Any] = [
                "id": "pol-mfa-all", "name": "MFA everywhere", "kind": "mfa_required", "scope": ["roles": ["user"]],
                "settings": ["applies_to": "all"],
            ]
            #expect(try await client.send(.post, "/api/policies", token: admin, json: body(everywhere)).status == .created)
            let refused = try await client.send(.get, "/api/workspaces", token: token)
            #expect(refused.status == .forbidden && refused["remedy"] as? String == "enroll_mfa", "\(refused.text)")
            #expect(try await client.send(.get, "/api/auth/me", token: token).status == .ok)
            let secret = try await SecondFactorTests.enrollAndConfirm(client, token: token, clock: clock)
            let stillRefused = try await client.send(.get, "/api/workspaces", token: token)
            #expect(stillRefused["remedy"] as? String == "verify_mfa", "enrolled, but this session did not pass MFA")
            clock.advance(30)
            let challenge = try await client.send(
                .post, "/api/auth/login", json: body(["email": user.email, "password": Harness.password])
            ).decoded(SecondFactorTests.ChallengeBody.self)
            let verified = try await client.send(
                .post, "/api/auth/mfa/verify",
                json: body(["mfa_token": challenge.mfaToken, "code": try SecondFactorTests.code(secret, at: clock.now)]))
            let session = try verified.decoded(SignedInBody.self).accessToken
            #expect(try await client.send(.get, "/api/workspaces", token: session).status == .ok)
        }
    }

    @Test(
        "MFA required at sign-in: an account without a second factor is refused with a challenge to enrol one, and signs in verified",
        arguments: StoreKind.allCases)
    func enrolmentAtSignIn(kind: StoreKind) async throws {
        let clock = ManualClock()
        try await Harness.run(store: kind, clock: clock.wallClock) { harness, client in
            let admin = try await harness.account(.admin).token
            let (user, _) = try await harness.account(.neosc, email: "ines@example.com")
            #expect(
                try await client.send(
                    .put, "/api/policies/pol-mfa-required", token: admin,
                    json: Harness.mfaRequiredAtSignIn
                ).status == .ok)
            let credentials = body(["email": user.email, "password": Harness.password])
            let refused = try await client.send(.post, "/api/auth/login", json: credentials)
            #expect(refused.status == .forbidden, "\(refused.text)")
            #expect(refused["policy"] as? String == "pol-mfa-required" && refused["remedy"] as? String == "enroll_mfa")
            #expect(refused["access_token"] == nil)
            let mfaToken = try #require(refused["mfa_token"] as? String)
            #expect(refused["expires_at"] is String)
            // Not a challenge for a code (there is no second factor yet), nor a bearer token.
            let asCode = try await client.send(.post, "/api/auth/mfa/verify", json: body(["mfa_token": mfaToken, "code": "123456"]))
            #expect(asCode.status == .unauthorized, "\(asCode.text)")
            #expect(try await client.send(.get, "/api/auth/me", token: mfaToken).status == .unauthorized)
            let bogus = try await client.send(
                .post, "/api/auth/mfa/enroll", json: body(["mfa_token": "neosc_mfa_" + String(repeating: "A", count: 43)]))
            #expect(bogus.status == .unauthorized, "\(bogus.text)")

            let enrolled = try await client.send(.post, "/api/auth/mfa/enroll", json: body(["mfa_token": mfaToken]))
                .decoded(SecondFactorTests.EnrolledBody.self)
            #expect(enrolled.recoveryCodes.count == 10)
            let wrong = try await client.send(.post, "/api/auth/mfa/confirm", json: body(["mfa_token": mfaToken, "code": "000000"]))
            #expect(wrong.status == .unprocessableContent, "\(wrong.text)")
            let code = try SecondFactorTests.code(enrolled.secret, at: clock.now)
            let signedIn = try await client.send(.post, "/api/auth/mfa/confirm", json: body(["mfa_token": mfaToken, "code": code]))
            let session = try signedIn.decoded(SignedInBody.self)
            #expect(session.user.mfaEnabled)
            let launched = try await client.send(.post, "/api/workspaces/ws-linux-desktop/launch", token: session.accessToken)
            #expect(launched.status == .created, "a session that enrolled at sign-in passed MFA: \(launched.text)")
            #expect(try launched.decoded(LaunchBody.self).session.mfaVerified)
            // Spent: neither the challenge nor the code signs in twice.
            clock.advance(30)
            let again = try await client.send(
                .post, "/api/auth/mfa/confirm",
                json: body(["mfa_token": mfaToken, "code": try SecondFactorTests.code(enrolled.secret, at: clock.now)]))
            #expect(again.status == .unauthorized, "\(again.text)")
            // From now on the account signs in in two steps, and the policy lets the first through.
            let twoSteps = try await client.send(.post, "/api/auth/login", json: credentials).decoded(SecondFactorTests.ChallengeBody.self)
            #expect(twoSteps.mfaRequired)
            let actions = try await harness.store.events(AuditQuery(userID: user.id, limit: 50)).map(\.action.rawValue)
            for action in ["policy_denied", "mfa_enrollment_started", "mfa_enrolled", "mfa_verified", "login"] {
                #expect(actions.contains(action), "\(action) in \(actions)")
            }
        }
    }

    @Test("an enrolment challenge dies with an administrator's password reset, and with a disabling", arguments: StoreKind.allCases)
    func enrolmentChallengeRevoked(kind: StoreKind) async throws {
        try await Harness.run(store: kind) { harness, client in
            let admin = try await harness.account(.admin).token
            let (reset, _) = try await harness.account(.neosc, email: "rita@example.com")
            let (disabled, _) = try await harness.account(.neosc, email: "dora@example.com")
            let policy = #"{"name":"Require MFA","kind":"mfa_required","enabled":true,"settings":{"applies_to":"sign_in"}}"#
            #expect(try await client.send(.put, "/api/policies/pol-mfa-required", token: admin, json: policy).status == .ok)
            func challenge(_ user: User) async throws -> String {
                let refused = try await client.send(
                    .post, "/api/auth/login", json: body(["email": user.email, "password": Harness.password]))
                return try #require(refused["mfa_token"] as? String, "\(refused.text)")
            }
            let first = try await challenge(reset)
            let second = try await challenge(disabled)
            let temporary = try #require(
                try await client.send(.post, "/api/users/\(reset.id)/password-reset", token: admin)["temporary_password"] as? String)
            // The owner takes the account back (the policy then asks it to enrol, with a new challenge).
            let taken = try await client.send(
                .post, "/api/auth/password",
                json: body(["email": reset.email, "current_password": temporary, "new_password": "the owner's own again 1"]))
            #expect(taken.status == .forbidden && taken["mfa_token"] is String && taken["mfa_token"] as? String != first, "\(taken.text)")
            for state in [true, false] {
                let changed = try await client.send(
                    .patch, "/api/users/\(disabled.id)", token: admin, json: body(["disabled": state]))
                #expect(changed.status == .ok, "\(changed.text)")
            }
            for token in [first, second] {
                let refused = try await client.send(.post, "/api/auth/mfa/enroll", json: body(["mfa_token": token]))
                #expect(refused.status == .unauthorized, "what the old password opened is closed: \(refused.text)")
            }
            #expect(try await harness.store.totpEnrollment(userID: reset.id) == nil)
        }
    }

    @Test(
        "MFA required at sign-in: registration makes the account and asks it to enrol; a closed window refuses first and makes nothing",
        arguments: StoreKind.allCases)
    func enrolmentAtRegistration(kind: StoreKind) async throws {
        // Wednesday 14 July 2100, 18:30 UTC: outside 08:00-18:00.
        let clock = ManualClock(Date(timeIntervalSince1970: 4_119_273_000))
        try await Harness.run(store: kind, clock: clock.wallClock) { harness, client in
            let admin = try await harness.account(.admin).token
            let mfa: [String: Any] = [
                "id": "pol-mfa-users", "name": "MFA for users", "kind": "mfa_required", "scope": ["roles": ["user"]],
            ]
            #expect(try await client.send(.post, "/api/policies", token: admin, json: body(mfa)).status == .created)
            let window = Self.hours(["applies_to": "sign_in"], scope: ["roles": ["user"]])
            #expect(try await client.send(.post, "/api/policies", token: admin, json: body(window)).status == .created)
            let registration = body(["email": "jo@example.com", "password": Harness.password, "name": "Jo"])
            let closed = try await client.send(.post, "/api/auth/register", json: registration)
            #expect(closed.status == .forbidden && closed["policy"] as? String == "pol-hours", "\(closed.text)")
            #expect(closed["mfa_token"] == nil)
            #expect(try await harness.store.user(email: "jo@example.com") == nil)

            clock.advance(14 * 3_600)  // Thursday 08:30: open
            let refused = try await client.send(.post, "/api/auth/register", json: registration)
            #expect(refused.status == .forbidden && refused["remedy"] as? String == "enroll_mfa", "\(refused.text)")
            let mfaToken = try #require(refused["mfa_token"] as? String)
            let user = try #require(try await harness.store.user(email: "jo@example.com"))
            #expect(!user.mfaEnabled)
            let enrolled = try await client.send(.post, "/api/auth/mfa/enroll", json: body(["mfa_token": mfaToken]))
                .decoded(SecondFactorTests.EnrolledBody.self)
            let signedIn = try await client.send(
                .post, "/api/auth/mfa/confirm",
                json: body(["mfa_token": mfaToken, "code": try SecondFactorTests.code(enrolled.secret, at: clock.now)]))
            #expect(try signedIn.decoded(SignedInBody.self).user.email == "jo@example.com")
        }
    }

    @Test("the second step of a sign-in meets the sign-in policies too", arguments: StoreKind.allCases)
    func secondStepMeetsSignInPolicies(kind: StoreKind) async throws {
        // Wednesday 14 July 2100, 17:59 UTC: a minute before the window closes.
        let clock = ManualClock(Date(timeIntervalSince1970: 4_119_271_140))
        try await Harness.run(store: kind, clock: clock.wallClock) { harness, client in
            let admin = try await harness.account(.admin).token
            let (user, token) = try await harness.account(.neosc, email: "vic@example.com")
            let secret = try await SecondFactorTests.enrollAndConfirm(client, token: token, clock: clock)
            let window = Self.hours(["applies_to": "sign_in"])
            #expect(try await client.send(.post, "/api/policies", token: admin, json: body(window)).status == .created)
            let challenge = try await client.send(
                .post, "/api/auth/login", json: body(["email": user.email, "password": Harness.password])
            ).decoded(SecondFactorTests.ChallengeBody.self)
            clock.advance(90)  // 18:00:30: closed
            let late = try await client.send(
                .post, "/api/auth/mfa/verify",
                json: body(["mfa_token": challenge.mfaToken, "code": try SecondFactorTests.code(secret, at: clock.now)]))
            #expect(late.status == .forbidden && late["policy"] as? String == "pol-hours", "\(late.text)")
        }
    }

    @Test("a rate limit by address counts anonymous callers too, one bucket per IPv4 address or IPv6 /64", arguments: StoreKind.allCases)
    func addressLimits(kind: StoreKind) async throws {
        let forwarded = HTTPField.Name("X-Forwarded-For")!
        let trusted: (inout Configuration) -> Void = { $0.trustedProxies = TrustedProxies([AddressRange("127.0.0.0/8")!]) }
        try await Harness.run(.live, store: kind, trusted) { harness, client in
            let admin = try await harness.account(.admin).token
            let limit: [String: Any] = [
                "id": "pol-per-address", "name": "Per address", "kind": "rate_limit",
                "settings": ["requests": 2, "per_seconds": 3600, "key": "address"],
            ]
            #expect(
                try await client.send(.post, "/api/policies", token: admin, json: body(limit), headers: [forwarded: "192.0.2.250"]).status
                    == .created)
            func login(from address: String) async throws -> HTTPResponse.Status {
                try await client.send(
                    .post, "/api/auth/login", json: body(["email": "nobody@example.com", "password": "not a password"]),
                    headers: [forwarded: address]
                ).status
            }
            #expect(try await login(from: "2001:db8:1:2::1") == .unauthorized)
            #expect(try await login(from: "2001:db8:1:2::99") == .unauthorized)
            #expect(try await login(from: "2001:db8:1:2:ffff::7") == .tooManyRequests, "the same /64")
            #expect(try await login(from: "2001:db8:1:3::1") == .unauthorized, "another /64")
            #expect(try await login(from: "198.51.100.1") == .unauthorized)
        }
    }

    @Test(
        "an organisation's policy covers its members only; a directly connected client in range passes; /health and /metrics are never refused",
        arguments: StoreKind.allCases)
    func scopesAndServiceRoutes(kind: StoreKind) async throws {
        try await Harness.run(.live, store: kind) { harness, client in
            let admin = try await harness.account(.admin).token
            let acme = Organization(id: "org-acme", name: "Acme", domain: "acme.example", createdAt: Date())
            try await harness.store.insert(acme)
            let member = try await harness.account(.neosc, organizationID: acme.id).token
            let outsider = try await harness.account(.neosc).token
            func create(_ policy: [String: Any]) async throws {
                let created = try await client.send(.post, "/api/policies", token: admin, json: body(policy))
                #expect(created.status == .created, "\(created.text)")
            }
            try await create([
                "id": "pol-acme-office", "name": "Acme office", "kind": "address_allowlist", "scope": ["organizations": [acme.id]],
                "settings": ["cidrs": ["10.0.0.0/8"]],
            ])
            let refused = try await client.send(.get, "/api/workspaces", token: member)
            #expect(refused.status == .forbidden && refused["policy"] as? String == "pol-acme-office", "\(refused.text)")
            #expect(try await client.send(.get, "/api/workspaces", token: outsider).status == .ok, "not of the organisation")
            let denied = try await harness.store.events(AuditQuery(action: .policyDenied, limit: 5))
            #expect(denied.first?.details["reason"] == "the client address is not in an allowed range")
            #expect(denied.first?.details["kind"] == "address_allowlist")

            // Without a trusted proxy the TCP peer is the client: loopback, allowed by its range.
            try await create([
                "id": "pol-loopback", "name": "Loopback", "kind": "address_allowlist", "scope": ["roles": ["neosc"]],
                "settings": ["cidrs": ["127.0.0.0/8", "::1"]],
            ])
            #expect(try await client.send(.get, "/api/workspaces", token: outsider).status == .ok)

            // Policies over everyone and every call: /api refused, /health and /metrics answered.
            // The limit first: the allow-list refuses every call after it, its own creation aside.
            try await create([
                "id": "pol-one-per-address", "name": "One", "kind": "rate_limit",
                "settings": ["requests": 1, "per_seconds": 3600, "key": "address"],
            ])
            try await create([
                "id": "pol-nowhere", "name": "Nowhere", "kind": "address_allowlist", "settings": ["cidrs": ["192.0.2.0/24"]],
            ])
            for _ in 0..<3 {
                #expect(try await client.send(.get, "/health").status == .ok)
                #expect(try await client.send(.get, "/metrics").status == .ok)
            }
            let api = try await client.send(.get, "/api/workspaces", token: admin)
            #expect(api.status == .forbidden || api.status == .tooManyRequests, "\(api.status)")
        }
    }

    @Test(
        "defaults cannot be deleted; a replacement keeps enabled and weight; a stored policy that no longer reads, or of a kind a newer version wrote, refuses its scope",
        arguments: StoreKind.allCases)
    func storedPolicyRules(kind: StoreKind) async throws {
        try await Harness.run(store: kind) { harness, client in
            let admin = try await harness.account(.admin).token
            let user = try await harness.account(.user).token
            let launcher = try await harness.account(.neosc).token
            // A kind this version does not know (a newer replica wrote it during a rolling upgrade).
            try await harness.store.insert(
                Policy(
                    id: "pol-newer", name: "Newer", description: "", category: "access", enabled: true, weight: 0,
                    scope: PolicyScope(roles: [.neosc]), rule: .unreadable(kind: "geo_fence", problem: "a newer kind"),
                    updatedAt: Date()))
            // Written behind NeoSC's back (another version, a hand edit); the changes below make
            // this process read the policies again.
            let broken = Policy(
                id: "pol-broken", name: "Broken", description: "", category: "access", enabled: true, weight: 0,
                scope: PolicyScope(roles: [.user]), rule: .unreadable(kind: "time_window", problem: "written by hand"),
                updatedAt: Date())
            try await harness.store.insert(broken)
            for id in ["pol-mfa-required", "pol-network-zero-trust", "pol-session-recording"] {
                #expect(try await client.send(.delete, "/api/policies/\(id)", token: admin).status == .conflict, "\(id)")
            }
            let created = try await client.send(
                .post, "/api/policies", token: admin,
                json: body([
                    "id": "pol-rec", "name": "Recorded", "kind": "session_recording", "enabled": false, "weight": 7,
                    "settings": ["retention_days": 10],
                ]))
            #expect(created.status == .created, "\(created.text)")
            let replaced = try await client.send(
                .put, "/api/policies/pol-rec", token: admin,
                json: body(["name": "Recorded longer", "kind": "session_recording", "settings": ["retention_days": 20]]))
            #expect(replaced.status == .ok, "\(replaced.text)")
            #expect(replaced["enabled"] as? Bool == false && replaced["weight"] as? Int == 7, "\(replaced.text)")

            let refused = try await client.send(.get, "/api/workspaces", token: user)
            #expect(refused.status == .forbidden && refused["policy"] as? String == "pol-broken", "\(refused.text)")
            #expect(try await client.send(.get, "/api/workspaces", token: admin).status == .ok, "outside its scope")

            // The newer kind refuses its scope alone, and is listed, switched and asked about as it is.
            let newer = try await client.send(.get, "/api/workspaces", token: launcher)
            #expect(newer.status == .forbidden && newer["policy"] as? String == "pol-newer", "\(newer.text)")
            #expect(newer.text.contains("geo_fence"), "\(newer.text)")
            let listed = try await client.send(.get, "/api/policies/pol-newer", token: admin)
            #expect(listed.status == .ok && listed["kind"] as? String == "geo_fence", "\(listed.text)")
            let asked = try await client.send(
                .post, "/api/policies/evaluate", token: admin, json: body(["role": "neosc", "stage": "call"]))
            #expect(asked.text.contains(#""kind":"geo_fence""#) && asked["allowed"] as? Bool == false, "\(asked.text)")
            let off = try await client.send(.patch, "/api/policies/pol-newer", token: admin, json: #"{"enabled":false}"#)
            #expect(off.status == .ok && off["kind"] as? String == "geo_fence", "\(off.text)")
            #expect(try await client.send(.get, "/api/workspaces", token: launcher).status == .ok)
            let toggles = try await harness.store.events(AuditQuery(action: .togglePolicy, limit: 10))
            #expect(toggles.contains { $0.resourceID == "pol-newer" && $0.details["kind"] == "geo_fence" }, "\(toggles)")
        }
    }

    @Test("a demo is a sign-in: a sign-in policy for demo-user refuses it before anything is created")
    func demosMeetSignInPolicies() async throws {
        try await Harness.run(.router, { $0.demo.enabled = true }) { harness, client in
            let admin = try await harness.account(.admin).token
            let created = try await client.send(
                .post, "/api/policies", token: admin,
                json: body([
                    "id": "pol-no-demos-here", "name": "No demos", "kind": "address_allowlist", "scope": ["roles": ["demo-user"]],
                    "settings": ["cidrs": ["192.0.2.0/24"], "applies_to": "sign_in"],
                ]))
            #expect(created.status == .created, "\(created.text)")
            let demo = try await client.send(.post, "/api/demo/sessions", json: body(["workspace_type": "browser"]))
            #expect(demo.status == .forbidden && demo["policy"] as? String == "pol-no-demos-here", "\(demo.text)")
            #expect(try await harness.store.activeDemoCount() == 0)
        }
    }

    @Test("MFA required: an account of an identity provider is told to verify there, a local one to enrol", arguments: StoreKind.allCases)
    func remedies(kind: StoreKind) async throws {
        try await Harness.run(store: kind) { harness, client in
            let admin = try await harness.account(.admin).token
            #expect(try await client.send(.patch, "/api/policies/pol-mfa-required", token: admin, json: #"{"enabled":true}"#).status == .ok)
            let now = Date()
            let sso = User(
                id: Identifier.make("usr"), email: "sso@example.com", name: "SSO", organizationID: nil, role: .neosc,
                passwordHash: nil, ssoProvider: "https://idp.example.com", ssoSubject: "s-1", createdAt: now, updatedAt: now)
            try await harness.store.insert(sso, creating: nil)
            let (token, digest) = BearerCredential.issue()
            try await harness.store.insert(
                AccessToken(digest: digest, userID: sso.id, issuedAt: now, expiresAt: now + 3_600, mfaVerified: false))
            let provider = try await client.send(.post, "/api/workspaces/ws-linux-desktop/launch", token: token)
            #expect(provider.status == .forbidden && provider["remedy"] as? String == "verify_mfa", "\(provider.text)")
            let local = try await harness.account(.neosc).token
            let enrol = try await client.send(.post, "/api/workspaces/ws-linux-desktop/launch", token: local)
            #expect(enrol.status == .forbidden && enrol["remedy"] as? String == "enroll_mfa", "\(enrol.text)")
        }
    }
}
