import Actors
import Crypto
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Integrations
import Net
import Services
import Synchronization
import TestSupport
import Testing

@testable import App

/// Just-in-time demos end on time with every clean-up step run once, across restarts and
/// replicas, with the provisioning webhook and NetBird played by a recording peer.
@Suite("Demo sessions and expiry")
struct DemoSessionTests {
    static let secret = "a-webhook-secret-of-at-least-32-chars!"

    static func settings(
        peer: RecordingPeer, lifetime: TimeInterval = 2, maxDuration: TimeInterval = 10, perAddress: Int = 3
    ) -> (inout Configuration) -> Void {
        { configuration in
            configuration.demo.enabled = true
            configuration.demo.lifetime = lifetime
            configuration.demo.maxDuration = maxDuration
            configuration.demo.maxActivePerAddress = perAddress
            configuration.demo.retryDelay = 0.1
            // Longer than any attempt on a loaded machine: a lapse would run a step twice. The
            // test of a lapsed claim sets its own lease.
            configuration.demo.claimLease = 600
            configuration.demo.rescanInterval = 1
            configuration.provisioner = .webhook
            configuration.provisionURL = peer.url + "/hook"
            configuration.provisionSecret = Secret(secret)
            configuration.netbird = (peer.url, Secret("netbird-token"))
        }
    }

    static func create(_ client: some TestClientProtocol, type: String = "browser") async throws -> Reply {
        try await client.send(.post, "/api/demo/sessions", json: body(["workspace_type": type, "email": "visitor@example.com"]))
    }

    static func demo(_ harness: Harness, _ id: String) async throws -> DemoSession? {
        try await harness.store.demo(id: id)
    }

    /// The id of the demo whose provisioning call `peer` has received (and, with a delay, not yet
    /// answered): a start under way, for a test to act on in the middle of it.
    static func demoBeingProvisioned(_ harness: Harness, _ peer: RecordingPeer) async throws -> String {
        for _ in 0..<300 {
            if peer.calls.contains(where: { $0.event == "provision" }),
                let id = try await harness.store.demos(userID: nil, limit: 1).first?.id
            {
                return id
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ProvisioningNeverCalled()
    }

    struct ProvisioningNeverCalled: Error, CustomStringConvertible {
        var description: String { "the provisioning call never came" }
    }

    /// Every audit entry of `action` about `demoID`.
    static func audited(_ harness: Harness, _ action: AuditAction, demo demoID: String) async throws -> [AuditEvent] {
        try await harness.store.events(AuditQuery(action: action, limit: 500)).filter { $0.resourceID == demoID }
    }

    @Test("the provisioning webhook says whether a session_recording policy covers the visitor's sessions")
    func provisioningCarriesRecording() async throws {
        try await RecordingPeer.with { peer in
            peer.reply("POST /hook provision", with: #"{"connection_url":"https://kasm.example.com/s/1"}"#)
            try await Harness.run(.router, Self.settings(peer: peer, lifetime: 600, maxDuration: 1_200)) { harness, client in
                func recording(of call: RecordingPeer.Call?) throws -> Bool? {
                    let body = try #require(call).body
                    let demo = (try JSONSerialization.jsonObject(with: body) as? [String: Any])?["demo"] as? [String: Any]
                    return demo?["recording"] as? Bool
                }
                #expect(try await Self.create(client).status == .created)
                #expect(try recording(of: peer.calls.last { $0.event == "provision" }) == false)
                let admin = try await harness.account(.admin).token
                #expect(
                    try await client.send(.patch, "/api/policies/pol-session-recording", token: admin, json: #"{"enabled":true}"#)
                        .status == .ok)
                #expect(try await Self.create(client).status == .created)
                #expect(try recording(of: peer.calls.last { $0.event == "provision" }) == true)
            }
        }
    }

    @Test("a demo expires on time: each clean-up step runs once, in order, audited; its token is refused at once")
    func expiry() async throws {
        try await RecordingPeer.with { peer in
            peer.reply("POST /hook provision", with: #"{"connection_url":"https://kasm.example.com/s/1","netbird_peer_id":"peer-1"}"#)
            // Time stands still while the visitor acts, and the deadline passes when the test moves
            // the clock: on the real clock a loaded machine once took longer than the demo's whole
            // lifetime to get there (5 s, then 15 s), and the token had rightly expired.
            let clock = ManualClock(Date())
            try await Harness.run(.router, clock: clock.wallClock, Self.settings(peer: peer, lifetime: 15, maxDuration: 30)) {
                harness, client in
                let created = try await Self.create(client)
                #expect(created.status == .created, "\(created.text)")
                let started = try created.decoded(DemoCreatedBody.self)
                let (id, token, expiresAt) = (started.demoSessionID, started.accessToken, started.expiresAt)
                #expect(started.tokenType == "bearer")
                #expect(started.connectionURL == "https://kasm.example.com/s/1")
                #expect(started.workspace.id == "ws-secure-browser")

                // The visitor sees and launches only its own workspace.
                let listed = try await client.send(.get, "/api/workspaces", token: token)
                #expect(try listed.decoded([WorkspaceBody].self).map(\.id) == ["ws-secure-browser"])
                #expect(try await client.send(.post, "/api/workspaces/ws-linux-desktop/launch", token: token).status == .forbidden)
                // Its figures count what it sees, not every workspace its role is allowed.
                let admin = try await harness.account(.admin).token
                let extra = try await client.send(
                    .post, "/api/workspaces", token: admin,
                    json: body(["id": "ws-also-for-demos", "name": "Also for demos", "type": "web", "url": "/health", "allowed_roles": ["demo-user"]])
                )
                #expect(extra.status == .created, "\(extra.text)")
                let figures = try await client.send(.get, "/api/stats", token: token)
                #expect(figures["total_workspaces"] as? Int == 1 && figures["available_workspaces"] as? Int == 1, "\(figures.text)")
                let launched = try await client.send(.post, "/api/workspaces/ws-secure-browser/launch", token: token)
                #expect(launched.status == .created)
                let sessionID = try launched.decoded(LaunchBody.self).sessionID
                let me = try await client.send(.get, "/api/demo/sessions", token: token)
                #expect(try me.decoded([DemoBody].self).map(\.id) == [id])

                // The webhook call is signed: HMAC-SHA256 over "timestamp.body".
                let provision = try #require(peer.calls.first { $0.event == "provision" })
                let timestamp = try #require(provision.headers["x-neosc-timestamp"])
                #expect(
                    provision.headers["x-neosc-signature"]
                        == "sha256="
                        + WebhookProvisioner.signature(
                            timestamp: timestamp, body: provision.body, secret: SymmetricKey(data: Data(Self.secret.utf8))))
                // …and what a receiver computes on its own (docs/demos.md): HMAC-SHA256 of "timestamp.body", hex.
                let expected = HMAC<SHA256>.authenticationCode(
                    for: Data((timestamp + ".").utf8) + provision.body, using: SymmetricKey(data: Data(Self.secret.utf8)))
                #expect(provision.headers["x-neosc-signature"] == "sha256=" + expected.map { String(format: "%02x", $0) }.joined())

                #expect(try await Self.audited(harness, .demoSessionExpired, demo: id).isEmpty, "nothing before the deadline")
                // The stored deadline (+1 ms: the stored and the armed date may differ in the last bit).
                clock.advance(to: try #require(try await Self.demo(harness, id)).expiresAt + 0.001)
                let finished = try await eventually(within: 60) {
                    try await Self.audited(harness, .demoSessionExpired, demo: id).count == 1
                }
                #expect(finished)
                #expect(try await client.send(.get, "/api/auth/me", token: token).status == .unauthorized)
                let demo = try #require(try await Self.demo(harness, id))
                #expect(demo.completedSteps == DemoCleanupStep.allCases)
                let endedAt = try #require(demo.endedAt)
                // Never early; late only by what a loaded machine adds. The bound catches a broken
                // scheduler (one that waits for its hourly wake) without timing a busy CI; the
                // scheduler's lateness is measured by the benchmark and its order by ExpirySchedulerTests.
                #expect(endedAt >= expiresAt, "not cleaned up before its deadline")
                #expect(endedAt.timeIntervalSince(expiresAt) < 60, "cleaned up within seconds of its deadline")
                #expect(try await harness.store.session(id: sessionID)?.endReason == "demo_ended")

                // The trail lists newest first, entries of one instant in the reverse of their writing.
                let steps = try await Self.audited(harness, .demoCleanupStep, demo: id)
                #expect(
                    steps.reversed().map { $0.details["step"] ?? "" }
                        == DemoCleanupStep.allCases.dropLast().map(\.rawValue))
                #expect(steps.allSatisfy { $0.success })
                // Each says what it did, as other changes that end sessions or revoke tokens do (a probe).
                let step = Dictionary(steps.map { ($0.details["step"] ?? "", $0.details) }, uniquingKeysWith: { first, _ in first })
                #expect(step["end_sessions"]?["sessions_terminated"] == "1" && step["end_sessions"]?["session_ids"] == sessionID)
                #expect(step["revoke_token"]?["tokens_revoked"] == "0", "its token expired with the demo: nothing left to revoke")
                #expect(step["revoke_network_peer"]?["peer_id"] == "peer-1")
                #expect(try await Self.audited(harness, .demoSessionCreated, demo: id).count == 1)
                #expect(try await Self.audited(harness, .demoSessionExpired, demo: id).count == 1)
                #expect(peer.calls.filter { $0.event == "deprovision" }.count == 1)
                #expect(peer.calls.filter { $0.method == "DELETE" && $0.path == "/api/peers/peer-1" }.count == 1)
                #expect(peer.calls.first { $0.method == "DELETE" }?.headers["authorization"] == "Token netbird-token")
            }
        }
    }

    @Test("a failing webhook is retried with backoff, never skipped; access ends at the deadline regardless")
    func failingWebhook() async throws {
        try await RecordingPeer.with { peer in
            peer.fail("POST /hook deprovision", times: 3)
            let retryDelay: TimeInterval = 0.2
            // Long enough that a loaded machine still starts the demo before its deadline (a demo
            // over by the time it is provisioned is not handed out).
            let settings = Self.settings(peer: peer, lifetime: 4)
            let adjust: (inout Configuration) -> Void = { configuration in
                settings(&configuration)
                configuration.demo.retryDelay = retryDelay
            }
            try await Harness.run(.router, adjust) { harness, client in
                let created = try await Self.create(client)
                let started = try created.decoded(DemoCreatedBody.self)
                let (id, token) = (started.demoSessionID, started.accessToken)
                // The answer gives the deadline in whole seconds, rounded down: a second more is past it.
                try await Task.sleep(for: .milliseconds(Int(max(0, started.expiresAt.timeIntervalSinceNow) * 1_000) + 1_100))
                #expect(
                    try await client.send(.get, "/api/auth/me", token: token).status == .unauthorized,
                    "refused from the deadline on, while the clean-up is still retrying")
                #expect(try await eventually { try await Self.demo(harness, id)?.status == .expired })
                let deprovisions = try await Self.audited(harness, .demoCleanupStep, demo: id)
                    .filter { $0.details["step"] == "deprovision_workspace" }
                #expect(deprovisions.filter { !$0.success }.count == 3)
                #expect(deprovisions.filter { $0.success }.count == 1)
                #expect(peer.calls.filter { $0.event == "deprovision" }.count == 4)
                // Backoff: attempt n + 1 starts at least retryDelay × 2^(n − 1) after attempt n was
                // audited, so the audited attempts are spaced by growing gaps. Lower bounds only (a
                // loaded machine adds to them); 1 ms of slack for the clocks' rounding.
                let attempts = deprovisions.sorted { Int($0.details["attempt"] ?? "") ?? 0 < Int($1.details["attempt"] ?? "") ?? 0 }
                #expect(attempts.map { $0.details["attempt"] ?? "" } == ["1", "2", "3", "4"])
                #expect(attempts.map(\.success) == [false, false, false, true])
                let gaps = zip(attempts.dropFirst(), attempts).map { $0.timestamp.timeIntervalSince($1.timestamp) }
                #expect(gaps.count == 3)
                for (index, gap) in gaps.enumerated() {
                    let backoff = retryDelay * pow(2, Double(index))
                    #expect(gap >= backoff - 0.001, "retry \(index + 1) waited \(gap) s, less than its backoff of \(backoff) s")
                }
                // The steps after it ran once, after it.
                #expect(try await Self.audited(harness, .demoCleanupStep, demo: id).filter { $0.details["step"] == "revoke_token" }.count == 1)
                let succeeded = try #require(attempts.last)
                let later = try await Self.audited(harness, .demoCleanupStep, demo: id).filter {
                    ["revoke_network_peer", "remove_identity_role", "revoke_token"].contains($0.details["step"] ?? "")
                }
                #expect(later.count == 3 && later.allSatisfy { $0.success && $0.timestamp >= succeeded.timestamp })
            }
        }
    }

    @Test("a demo ended early is refused at once, even while a failing step keeps its clean-up from finishing")
    func endedEarlyWhileCleanUpFails() async throws {
        try await RecordingPeer.with { peer in
            peer.fail("POST /hook deprovision", times: 1_000)
            try await Harness.run(.router, Self.settings(peer: peer, lifetime: 600)) { harness, client in
                let created = try await Self.create(client)
                let started = try created.decoded(DemoCreatedBody.self)
                let (id, token) = (started.demoSessionID, started.accessToken)
                #expect(try await client.send(.get, "/api/auth/me", token: token).status == .ok)
                let ending = try await client.send(.delete, "/api/demo/sessions/\(id)", token: token)
                #expect(ending.status == .serviceUnavailable, "the clean-up could not finish: \(ending.text)")
                #expect(try await client.send(.get, "/api/auth/me", token: token).status == .unauthorized)
                let demo = try #require(try await Self.demo(harness, id))
                #expect(demo.status == .expiring && demo.endingAs == .ended)
                #expect(demo.completedSteps == [.endSessions], "stopped at the failing step, none skipped")
                // Who ended it is recorded now: the clean-up, when it finishes, writes its entry as NeoSC
                // (a probe found an administrator's end in no entry of theirs).
                let asked = try await Self.audited(harness, .demoSessionEnded, demo: id)
                #expect(asked.count == 1 && asked.first?.success == false && asked.first?.userID == demo.userID)
                #expect(asked.first?.details["reason"] == "cleanup_unfinished" && asked.first?.details["ended_by"] == demo.userID)
            }
        }
    }

    /// A probe: an administrator ended a demo while its workspace was being provisioned. The
    /// clean-up deprovisioned before the workspace existed, the start then answered 201 with a
    /// token and the desktop's address, and the workspace was never deprovisioned.
    @Test("a demo ended while it is provisioned hands nothing out, and what provisioning made is undone")
    func endedWhileProvisioned() async throws {
        try await RecordingPeer.with { peer in
            peer.reply("POST /hook provision", with: #"{"connection_url":"https://kasm.example.com/s/9","netbird_peer_id":"peer-9"}"#)
            peer.delay("POST /hook provision", by: .seconds(2))
            try await Harness.run(.router, Self.settings(peer: peer, lifetime: 600)) { harness, client in
                let admin = try await harness.account(.admin).token
                async let starting = Self.create(client)
                let id = try await Self.demoBeingProvisioned(harness, peer)
                let ended = try await client.send(.delete, "/api/demo/sessions/\(id)", token: admin)
                #expect(ended.status == .ok, "\(ended.text)")
                let started = try await starting
                #expect(started.status == .conflict, "\(started.text)")
                #expect(started["access_token"] == nil && !started.text.contains("kasm.example.com"))

                let events = peer.calls.compactMap(\.event)
                let provisioned = try #require(events.firstIndex(of: "provision"))
                #expect(events.filter { $0 == "deprovision" }.count == 2, "the clean-up's, and the one after provisioning: \(events)")
                let undone = try await Self.audited(harness, .demoCleanupStep, demo: id).filter { $0.details["after_end"] == "true" }
                #expect(
                    Set(undone.map { "\($0.details["step"] ?? "") \($0.details["attempt"] ?? "") \($0.success)" })
                        == ["deprovision_workspace 1 true", "revoke_network_peer 1 true"])
                #expect(events.lastIndex(of: "deprovision").map { $0 > provisioned } == true)
                #expect(peer.calls.contains { $0.method == "DELETE" && $0.path == "/api/peers/peer-9" })
                let demo = try #require(try await Self.demo(harness, id))
                #expect(demo.status == .ended && demo.connectionURL == nil)
                let refused = try await Self.audited(harness, .demoSessionCreated, demo: id)
                #expect(refused.map(\.success) == [false] && refused.first?.details["reason"] == "ended_while_provisioning")
            }
        }
    }

    /// A probe: one failure of the undo's deprovisioning left the desktop and its peer behind, with
    /// a log line alone. Here every deprovisioning fails: the end cannot finish (503), the start
    /// hands nothing out, and the undo tries each time the clean-up would, each attempt audited.
    @Test("a late provisioning's undo is retried with backoff, each attempt audited")
    func aLateProvisioningsUndoIsRetried() async throws {
        try await RecordingPeer.with { peer in
            peer.reply("POST /hook provision", with: #"{"connection_url":"https://kasm.example.com/s/8","netbird_peer_id":"peer-8"}"#)
            peer.delay("POST /hook provision", by: .seconds(3))
            peer.fail("POST /hook deprovision", times: 1_000)
            try await Harness.run(.router, Self.settings(peer: peer, lifetime: 600)) { harness, client in
                let admin = try await harness.account(.admin).token
                async let starting = Self.create(client)
                let id = try await Self.demoBeingProvisioned(harness, peer)
                let ended = try await client.send(.delete, "/api/demo/sessions/\(id)", token: admin)
                #expect(ended.status == .serviceUnavailable, "its clean-up cannot deprovision: \(ended.text)")
                let started = try await starting
                #expect(started.status == .conflict, "\(started.text)")
                let undone = try await Self.audited(harness, .demoCleanupStep, demo: id).filter { $0.details["after_end"] == "true" }
                let deprovisions = undone.filter { $0.details["step"] == "deprovision_workspace" }
                #expect(Set(deprovisions.compactMap { $0.details["attempt"] }) == ["1", "2", "3", "4", "5"], "every attempt audited")
                #expect(deprovisions.allSatisfy { !$0.success && $0.details["error"] != nil })
                #expect(undone.contains { $0.details["step"] == "revoke_network_peer" && $0.success && $0.details["peer_id"] == "peer-8" })
            }
        }
    }

    /// The same, extended instead of ended: the token and the answer carry the expiry as it stands.
    @Test("a demo extended while it is provisioned starts with its extended expiry, its token too")
    func extendedWhileProvisioned() async throws {
        try await RecordingPeer.with { peer in
            peer.delay("POST /hook provision", by: .seconds(2))
            try await Harness.run(.router, Self.settings(peer: peer, lifetime: 600, maxDuration: 3_600)) { harness, client in
                let admin = try await harness.account(.admin).token
                async let starting = Self.create(client)
                let id = try await Self.demoBeingProvisioned(harness, peer)
                let extended = try await client.send(.post, "/api/demo/sessions/\(id)/extend", token: admin, json: #"{"minutes":30}"#)
                #expect(extended.status == .ok, "\(extended.text)")
                let started = try await starting
                #expect(started.status == .created, "\(started.text)")
                let body = try started.decoded(DemoCreatedBody.self)
                let stored = try #require(try await Self.demo(harness, id))
                #expect(abs(body.expiresAt.timeIntervalSince(stored.expiresAt)) < 1, "the answer says the extended expiry")
                let token = try #require(try await harness.store.token(digest: BearerCredential.digest(body.accessToken)))
                #expect(token.expiresAt >= stored.expiresAt - 1, "the token lasts as long as the extended demo")
            }
        }
    }

    /// A probe: a visitor's logout revoked its only token and left the demo running, holding its
    /// slot and its workspace until its expiry, with nothing left to reach or end it.
    @Test("a demo visitor's sign-out ends its demo, with the whole clean-up")
    func signingOutEndsTheDemo() async throws {
        try await RecordingPeer.with { peer in
            try await Harness.run(.router, Self.settings(peer: peer, lifetime: 600)) { harness, client in
                let started = try await Self.create(client).decoded(DemoCreatedBody.self)
                let out = try await client.send(.post, "/api/auth/logout", token: started.accessToken)
                #expect(out.status == .ok, "\(out.text)")
                let demo = try #require(try await Self.demo(harness, started.demoSessionID))
                #expect(demo.status == .ended && demo.completedSteps == DemoCleanupStep.allCases)
                #expect(peer.calls.filter { $0.event == "deprovision" }.count == 1)
                let ended = try await Self.audited(harness, .demoSessionEnded, demo: demo.id)
                #expect(ended.count == 1 && ended.first?.userID == demo.userID && ended.first?.success == true)
                #expect(try await harness.store.activeDemoCount() == 0, "its slot is free")
            }
        }
    }

    /// `expiry`'s "refused at once", without the clean-up's help: the deprovision step keeps
    /// failing, so revoke_token never runs, and the injected clock puts the test right at the deadline.
    @Test("a demo's token is refused from its deadline on, before the clean-up's revoke step has run")
    func refusedAtTheDeadlineBeforeRevocation() async throws {
        try await RecordingPeer.with { peer in
            peer.fail("POST /hook deprovision", times: 1_000)
            let clock = ManualClock(Date())
            try await Harness.run(.router, clock: clock.wallClock, Self.settings(peer: peer, lifetime: 60)) { harness, client in
                let created = try await Self.create(client)
                #expect(created.status == .created, "\(created.text)")
                let started = try created.decoded(DemoCreatedBody.self)
                let (id, token) = (started.demoSessionID, started.accessToken)
                let expiresAt = try #require(try await Self.demo(harness, id)).expiresAt
                #expect(abs(expiresAt.timeIntervalSince1970 - (clock.now + 60).timeIntervalSince1970) < 0.001)
                func revokeAudited() async throws -> Int {
                    try await Self.audited(harness, .demoCleanupStep, demo: id).filter { $0.details["step"] == "revoke_token" }.count
                }

                // Good up to its deadline (and cached: the cache must not outlive the deadline either).
                clock.advance(to: expiresAt - 1)
                #expect(try await client.send(.get, "/api/auth/me", token: token).status == .ok)
                #expect(try await client.send(.get, "/api/auth/me", token: token).status == .ok)
                #expect(harness.portal.tokenCache.count == 1)

                clock.advance(to: expiresAt)
                let refused = try await client.send(.get, "/api/auth/me", token: token)
                #expect(refused.status == .unauthorized, "refused at the deadline: \(refused.text)")
                #expect(refused.detail?.isEmpty == false)
                #expect(try await revokeAudited() == 0, "refused before the revoke step ran")
                let record = try await harness.store.token(digest: BearerCredential.digest(token))
                #expect(record != nil && record?.revokedAt == nil, "refused by its deadline, not by a revocation")

                // The clean-up begins and is stuck at the failing step; the token stays refused.
                clock.advance(1)
                let stuck = try await eventually {
                    try await Self.audited(harness, .demoCleanupStep, demo: id)
                        .contains { $0.details["step"] == "deprovision_workspace" && !$0.success }
                }
                #expect(stuck)
                let demo = try #require(try await Self.demo(harness, id))
                #expect(demo.status == .expiring && demo.completedSteps == [.endSessions])
                #expect(try await revokeAudited() == 0)
                #expect(try await harness.store.token(digest: BearerCredential.digest(token))?.revokedAt == nil)
                #expect(try await client.send(.get, "/api/auth/me", token: token).status == .unauthorized)
                #expect(try await client.send(.get, "/api/workspaces", token: token).status == .unauthorized)
            }
        }
    }

    @Test("a clean-up left half done by a replica that died is resumed by another, from the first unfinished step")
    func resumeAfterDeadReplica() async throws {
        try await RecordingPeer.with { peer in
            try await Harness.run(.router, Self.settings(peer: peer, lifetime: 600)) { harness, client in
                let created = try await Self.create(client)
                let id = try created.decoded(DemoCreatedBody.self).demoSessionID
                // Another replica claims the clean-up, ends the sessions, and dies.
                let now = Date()
                // Held long enough for its step to be marked done on a loaded machine; the step's
                // mark then shortens it to a second, and the replica "dies".
                let claimed = try await harness.store.claimCleanup(
                    id: id, replica: "dead-replica/claim-1", endingAs: .ended, at: now, leaseUntil: now + 600)
                #expect(claimed?.status == .expiring)
                #expect(try await harness.store.completeStep(.endSessions, id: id, replica: "dead-replica/claim-1", leaseUntil: now + 1))
                // While its lease holds, nobody else may take it.
                let early = try await harness.store.claimCleanup(
                    id: id, replica: "other/claim", endingAs: .expired, at: now, leaseUntil: now + 5)
                #expect(early == nil)

                let resumed = try await eventually { try await Self.demo(harness, id)?.status == .ended }
                #expect(resumed, "this replica's rescan found the lapsed claim and finished the clean-up")
                let demo = try #require(try await Self.demo(harness, id))
                #expect(demo.completedSteps == DemoCleanupStep.allCases)
                let steps = try await Self.audited(harness, .demoCleanupStep, demo: id).compactMap { $0.details["step"] }
                #expect(!steps.contains("end_sessions"), "the dead replica's finished step is not run again")
                #expect(steps.contains("deprovision_workspace"))
                #expect(peer.calls.filter { $0.event == "deprovision" }.count == 1)
                // The audit entry follows the state change (written just after it).
                let audited = try await eventually {
                    try await Self.audited(harness, .demoSessionEnded, demo: id).count == 1
                }
                #expect(audited)
            }
        }
    }

    @Test("the Zitadel driver removes the user's grants on the project; accounts from elsewhere are left alone")
    func zitadelGrants() async throws {
        try await RecordingPeer.with { peer in
            peer.reply("POST /management/v1/users/grants/_search", with: #"{"result":[{"id":"grant-1"},{"id":"grant-2"}]}"#)
            let revoker = ZitadelRoleRevoker(issuer: peer.url, projectID: "project-7", token: "svc-token", http: .shared)
            let now = Date()
            var user = User(
                id: "usr-1", email: "v@example.com", name: "V", organizationID: nil, role: .demoUser, passwordHash: nil,
                ssoProvider: peer.url, ssoSubject: "zitadel-user-1", createdAt: now, updatedAt: now)
            try await revoker.removeRole(of: user)
            let calls = peer.calls
            #expect(
                calls.map { "\($0.method) \($0.path)" } == [
                    "POST /management/v1/users/grants/_search",
                    "DELETE /management/v1/users/zitadel-user-1/grants/grant-1",
                    "DELETE /management/v1/users/zitadel-user-1/grants/grant-2",
                ])
            #expect(calls.allSatisfy { $0.headers["authorization"] == "Bearer svc-token" })
            let search = String(decoding: try #require(calls.first?.body), as: UTF8.self)
            #expect(search.contains("zitadel-user-1") && search.contains("project-7"))

            user.ssoProvider = "https://other-issuer.example.com"
            try await revoker.removeRole(of: user)
            #expect(peer.calls.count == 3, "not a Zitadel account of this issuer: nothing to remove")

            peer.fail("POST /management/v1/users/grants/_search", times: 1)
            user.ssoProvider = peer.url
            await #expect(throws: (any Error).self) { try await revoker.removeRole(of: user) }
        }
    }

    @Test("a restart in the middle still expires the demo on time")
    func restart() async throws {
        try await RecordingPeer.with { peer in
            let directory = Harness.makeDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            // The deadline passes on the test's clock, only once the second process runs: a loaded
            // machine cannot let it pass while the first is still stopping.
            let clock = ManualClock()
            let first = try await Harness.open(
                directory: directory, clock: clock.wallClock, Self.settings(peer: peer, lifetime: 40, maxDuration: 80))
            let made = Mutex<(id: String, expiresAt: Date)?>(nil)
            try await first.serve(.router) { client in
                let created = try await Self.create(client)
                let id = try created.decoded(DemoCreatedBody.self).demoSessionID
                let expiresAt = try created.decoded(DemoCreatedBody.self).expiresAt
                made.withLock { $0 = (id, expiresAt) }
            }
            let (id, expiresAt) = try #require(made.withLock { $0 })
            try await first.close(removing: false)

            let second = try await Harness.open(
                directory: directory, clock: clock.wallClock, Self.settings(peer: peer, lifetime: 40, maxDuration: 80))
            try await second.serve(.router) { _ in
                // The stored deadline (+1 ms: the stored and the armed date may differ in the last bit).
                clock.advance(to: try #require(try await Self.demo(second, id)).expiresAt + 0.001)
                let expired = try await eventually(within: 60) { try await Self.demo(second, id)?.status == .expired }
                #expect(expired)
            }
            let demo = try #require(try await Self.demo(second, id))
            let endedAt = try #require(demo.endedAt)
            #expect(endedAt >= expiresAt, "expired at its deadline, not before")
            #expect(endedAt.timeIntervalSince(expiresAt) < 60, "re-armed from the store after the restart")
            #expect(peer.calls.filter { $0.event == "deprovision" }.count == 1)
            try await second.close(removing: false)
        }
    }

    @Test("two replicas on one MongoDB clean a demo up exactly once")
    func replicas() async throws {
        try await RecordingPeer.with { peer in
            let url = try await TestMongo.shared.freshDatabaseURL()
            // One clock the test moves for both: the deadline passes only once B has armed it.
            let clock = ManualClock()
            let a = try await Harness.open(store: .mongo, mongoURL: url, clock: clock.wallClock, Self.settings(peer: peer))
            let b = try await Harness.open(store: .mongo, mongoURL: url, clock: clock.wallClock, Self.settings(peer: peer))
            defer {
                try? FileManager.default.removeItem(at: a.directory)
                try? FileManager.default.removeItem(at: b.directory)
            }
            try await a.serve(.router) { clientA in
                try await b.serve(.router) { _ in
                    let created = try await Self.create(clientA)
                    let id = try created.decoded(DemoCreatedBody.self).demoSessionID
                    // B learns of A's demo from the store (rescan), so both race for its clean-up.
                    #expect(try await eventually { await b.portal.lifetimes.scheduler.due(.demoExpiry(demoID: id)) != nil })
                    clock.advance(to: try #require(try await Self.demo(a, id)).expiresAt + 0.001)
                    #expect(try await eventually { try await Self.demo(a, id)?.status == .expired })
                    try await Task.sleep(for: .milliseconds(1_500))
                    #expect(peer.calls.filter { $0.event == "deprovision" }.count == 1)
                    #expect(try await Self.audited(a, .demoSessionExpired, demo: id).count == 1)
                    let steps = try await Self.audited(a, .demoCleanupStep, demo: id)
                    #expect(steps.count == DemoCleanupStep.allCases.count - 1)
                }
            }
            try await a.close(removing: true)
            try await b.close(removing: true)
        }
    }

    @Test("extensions at once add up, each audited with the expiry it moved: none is lost, none shortens another")
    func extensionsAtOnceAddUp() async throws {
        try await RecordingPeer.with { peer in
            try await Harness.run(.router, Self.settings(peer: peer, lifetime: 600, maxDuration: 3_600)) { harness, client in
                let id = try (try await Self.create(client)).decoded(DemoCreatedBody.self).demoSessionID
                let before = try #require(try await Self.demo(harness, id)?.expiresAt)
                let admin = try await harness.account(.admin).token
                let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    for minutes in [1, 1, 1, 1, 1, 1, 1, 1, 1, 1] {
                        group.addTask {
                            try await client.send(.post, "/api/demo/sessions/\(id)/extend", token: admin, json: body(["minutes": minutes])).status
                        }
                    }
                    return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
                }
                #expect(statuses.allSatisfy { $0 == .ok }, "\(statuses.map(\.code))")
                let after = try #require(try await Self.demo(harness, id)?.expiresAt)
                #expect(abs(after.timeIntervalSince(before) - 600) < 0.01, "ten minutes, not \(after.timeIntervalSince(before)) s")
                let entries = try await harness.store.events(AuditQuery(action: .demoSessionExtended, limit: 20))
                #expect(entries.count == 10)
                #expect(Set(entries.compactMap { $0.details["previous_expires_at"] }).count == 10, "each moved what the one before left")

                // Ends at once: one ends it, the others are told it is ending (409), not that the store failed.
                let ends = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    for _ in 0..<5 { group.addTask { try await client.send(.delete, "/api/demo/sessions/\(id)", token: admin).status } }
                    return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
                }
                #expect(ends.filter { $0 == .ok }.count == 1 && ends.filter { $0 == .conflict }.count == 4, "\(ends.map(\.code))")
                #expect(try await harness.store.events(AuditQuery(action: .demoSessionEnded, limit: 10)).count == 1)
            }
        }
    }

    @Test("limits per address answer 429 with Retry-After; the owner can end a demo; only admins extend, never past the maximum")
    func limitsEndAndExtend() async throws {
        try await RecordingPeer.with { peer in
            try await Harness.run(.router, Self.settings(peer: peer, lifetime: 600, maxDuration: 1_200, perAddress: 1)) {
                harness, client in
                let first = try await Self.create(client)
                #expect(first.status == .created)
                let refused = try await Self.create(client)
                #expect(refused.status == .tooManyRequests)
                #expect(Int(refused.headers[.retryAfter] ?? "") ?? 0 > 0)

                let started = try first.decoded(DemoCreatedBody.self)
                let (id, token) = (started.demoSessionID, started.accessToken)
                let admin = try await harness.account(.admin)
                let user = try await harness.account(.user)
                #expect(try await client.send(.get, "/api/demo/sessions", token: user.token).status == .forbidden)
                #expect(
                    try await client.send(.post, "/api/demo/sessions/\(id)/extend", token: token, json: body(["minutes": 5])).status
                        == .forbidden)
                let extended = try await client.send(
                    .post, "/api/demo/sessions/\(id)/extend", token: admin.token, json: body(["minutes": 600]))
                #expect(extended.status == .ok, "\(extended.text)")
                let capped = try extended.decoded(DemoBody.self)
                #expect(capped.expiresAt == capped.maxExpiresAt, "capped at the maximum")
                #expect(
                    try await client.send(.post, "/api/demo/sessions/\(id)/extend", token: admin.token, json: body(["minutes": 1]))
                        .status == .conflict)
                let tokenExpiry = try await harness.store.token(digest: BearerCredential.digest(token))?.expiresAt
                let demoExpiry = try await Self.demo(harness, id)?.expiresAt
                #expect(tokenExpiry == demoExpiry, "the token lives as long as the demo")

                let ended = try await client.send(.delete, "/api/demo/sessions/\(id)", token: token)
                #expect(ended.status == .ok, "\(ended.text)")
                #expect(try ended.decoded(DemoBody.self).status == "ended")
                #expect(try await client.send(.get, "/api/auth/me", token: token).status == .unauthorized)
                #expect(try await Self.audited(harness, .demoSessionEnded, demo: id).count == 1)
                #expect(try await Self.audited(harness, .demoSessionExtended, demo: id).count == 1)
                #expect(try await Self.create(client).status == .created, "the address's slot is free again")
                #expect(try await Self.create(client, type: "sap").status == .unprocessableContent)
            }
        }
    }

    @Test("sessions: heartbeats keep them; idle past the timeout → disconnected; past their lifetime → expired")
    func idleAndLifetime() async throws {
        // On a clock the test moves: heartbeats 2 s apart keep a session with a 3 s idle timeout
        // for 8 s; then 3.5 s without one end it. (On the real clock a loaded machine's stall of a
        // few seconds between heartbeats ended it: a clean-clone CI run saw that.)
        let idleClock = ManualClock(Date())
        try await Harness.run(.router, clock: idleClock.wallClock, { $0.demo.idleTimeout = 3 }) { harness, client in
            let account = try await harness.account(.neosc)
            let launched = try await client.send(.post, "/api/workspaces/ws-linux-desktop/launch", token: account.token)
            let id = try launched.decoded(LaunchBody.self).sessionID
            for _ in 0..<4 {
                idleClock.advance(2)
                let beat = try await client.send(.post, "/api/sessions/\(id)/heartbeat", token: account.token)
                #expect(beat.status == .ok, "\(beat.status): \(beat.text)")
            }
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await harness.store.session(id: id)?.status == .active, "heartbeats kept it past the idle timeout")
            idleClock.advance(3.5)
            #expect(try await eventually { try await harness.store.session(id: id)?.status == .disconnected })
            #expect(try await harness.store.session(id: id)?.endReason == "idle_timeout")
            let idleAudited = try await eventually {
                try await harness.store.events(AuditQuery(action: .sessionIdleTimeout)).first?.resourceID == id
            }
            #expect(idleAudited)
            #expect(try await client.send(.post, "/api/sessions/\(id)/heartbeat", token: account.token).status == .conflict)
        }

        // Past its lifetime → expired. Launched through the route, which arms the deadline itself,
        // on a workspace whose sessions last one minute (the shortest `max_session_minutes`); the
        // injected clock stands in for the minute.
        let clock = ManualClock(Date())
        try await Harness.run(.router, clock: clock.wallClock) { harness, client in
            let admin = try await harness.account(.admin)
            let account = try await harness.account(.neosc)
            let shortened = try await client.send(
                .put, "/api/workspaces/ws-linux-desktop", token: admin.token, json: body(["max_session_minutes": 1]))
            #expect(shortened.status == .ok, "\(shortened.text)")
            let launched = try await client.send(.post, "/api/workspaces/ws-linux-desktop/launch", token: account.token)
            #expect(launched.status == .created, "\(launched.text)")
            #expect(try launched.decoded(LaunchBody.self).expiresAt != nil)
            let id = try launched.decoded(LaunchBody.self).sessionID
            let session = try #require(try await harness.store.session(id: id))
            let expiresAt = try #require(session.expiresAt)
            #expect(abs(expiresAt.timeIntervalSince1970 - (session.startedAt + 60).timeIntervalSince1970) < 0.001)
            #expect(
                await harness.portal.lifetimes.scheduler.due(.sessionLifetime(sessionID: id)) != nil,
                "the launch armed the lifetime deadline")

            clock.advance(to: expiresAt - 1)
            #expect(try await client.send(.post, "/api/sessions/\(id)/heartbeat", token: account.token).status == .ok)
            #expect(try await harness.store.session(id: id)?.status == .active, "not before its lifetime")
            // A millisecond past it: the stored deadline may differ from the armed one in the last bit.
            clock.advance(to: expiresAt + 0.001)
            #expect(try await eventually { try await harness.store.session(id: id)?.status == .expired })
            #expect(try await harness.store.session(id: id)?.endReason == "max_duration")
            let expiryAudited = try await eventually {
                try await harness.store.events(AuditQuery(action: .sessionExpired)).first?.resourceID == id
            }
            #expect(expiryAudited)
            #expect(try await client.send(.post, "/api/sessions/\(id)/heartbeat", token: account.token).status == .conflict)
        }
    }

    @Test("demos are off unless NEOSC_DEMO_ENABLED")
    func disabled() async throws {
        try await Harness.run { _, client in
            let refused = try await Self.create(client)
            #expect(refused.status == .notFound)
        }
    }
}
