import CompressNIO
import Domain
import Foundation
import HTTPTypes
import HummingbirdTesting
import HummingbirdWSClient
import Logging
import NIOCore
import NIOSSL
import NIOWebSocket
import Net
import Services
import Synchronization
import TestSupport
import Testing

@testable import App

/// Workspace streams through NeoSC (issue #17), against a real desktop: Xvfb with x11vnc on a
/// loopback port as the workspace, NeoSC relaying it over a WebSocket, a small RFB client as the
/// viewer. What the anchors lack is tested as such: the stream is cut the moment its session ends.
@Suite(.serialized) struct StreamTests {
    /// How long after its session's end a cut stream may still be seen open (seconds).
    ///
    /// The cut is at once (well under a second measured alone, 1.17 s seen under the whole
    /// suite), and where this bound is used nothing else would ever cut the stream: it only
    /// tells "at once" from "never", with room for CI's two cores, which have held a 1 s timer
    /// back by 4 s. It stays under anything else that runs on a timer here (the 10 s activity
    /// interval), so a cut that came from one of those would not pass for the session's own.
    static let cutBound: TimeInterval = 8

    @Test func aRealDesktopIsRelayedAndCutTheMomentItsSessionStops() async throws {
        let desktop = try await TestDesktop.start()
        defer { Task { await desktop.stop() } }
        try await Harness.run(.live, { $0.allowStreams(reviewed: false) }) { harness, client in
            let viewer = try await Viewer.launch(harness, client, upstream: "vnc://127.0.0.1:\(desktop.port)")
            let grant = try await viewer.ticket()
            #expect(grant.streamURL.hasSuffix("/streams/\(viewer.sessionID)?ticket=\(grant.ticket)"))
            #expect(grant.expiresAt.timeIntervalSinceNow <= 601)
            let closedAt = Mutex<Date?>(nil)
            let stoppedAt = Mutex<Date?>(nil)
            let update = Mutex<(width: Int, height: Int, rectangles: Int)?>(nil)
            let close = try await viewer.open(grant) { inbound, outbound in
                let reader = FrameReader(inbound)
                let screen = try await RFB.handshake(reader, outbound)
                update.withLock { $0 = (screen.width, screen.height, 0) }
                let rectangles = try await RFB.requestUpdate(reader, outbound, screen)
                update.withLock { $0?.rectangles = rectangles }
                let stopped = try await client.send(.post, "/api/workspaces/\(viewer.workspaceID)/stop", token: viewer.token)
                #expect(stopped.status == .ok)
                stoppedAt.withLock { $0 = Date() }
                try await reader.drain()
                closedAt.withLock { $0 = Date() }
            }
            let screen = try #require(update.withLock { $0 })
            #expect(screen.width == 320 && screen.height == 240)
            #expect(screen.rectangles >= 1)
            #expect(close?.closeCode == .unknown(4000))
            #expect(close?.reason == "Session ended: stopped")
            // From the moment the stop had committed (its answer arrived: the session had ended) to
            // the moment the viewer saw its stream closed; negative when the close came first.
            let cut = try #require(closedAt.withLock { $0 }).timeIntervalSince(try #require(stoppedAt.withLock { $0 }))
            // At once: with reviews off nothing else would ever cut it (see cutBound).
            #expect(cut < Self.cutBound, "the stream outlived its session by \(cut) s")

            let trail = try await viewer.trail(harness, client)
            let opened = try #require(trail.first { $0.action == "stream_opened" })
            #expect(opened.success)
            #expect(opened.details["upstream"] == "vnc://127.0.0.1:\(desktop.port)")
            let closed = try #require(trail.first { $0.action == "stream_closed" })
            #expect(closed.details["reason"] == "session_ended:stopped")
            #expect(Int(closed.details["bytes_to_browser"] ?? "") ?? 0 > 1_000)
            #expect(Int(closed.details["bytes_from_browser"] ?? "") ?? 0 >= 12 + 1 + 1 + 10)
        }
    }

    @Test func aWebSocketUpstreamIsPassedThroughFrameByFrameAndCutToo() async throws {
        try await TestDesktop.withWebSocketFront { port in
            try await Harness.run(.live, { $0.allowStreams() }) { harness, client in
                let viewer = try await Viewer.launch(harness, client, upstream: "ws://127.0.0.1:\(port)/")
                let update = Mutex<Int?>(nil)
                let close = try await viewer.open(try await viewer.ticket(), protocols: ["binary"]) { inbound, outbound in
                    let reader = FrameReader(inbound)
                    let screen = try await RFB.handshake(reader, outbound)
                    update.withLock { $0 = screen.width }
                    _ = try await RFB.requestUpdate(reader, outbound, screen)
                    let stopped = try await client.send(.post, "/api/workspaces/\(viewer.workspaceID)/stop", token: viewer.token)
                    #expect(stopped.status == .ok)
                    try await reader.drain()
                }
                #expect(update.withLock { $0 } == 320)
                #expect(close?.closeCode == .unknown(4000))
                let trail = try await viewer.trail(harness, client)
                #expect(trail.first { $0.action == "stream_opened" }?.details["upstream"] == "ws://127.0.0.1:\(port)/")
                #expect(trail.first { $0.action == "stream_closed" }?.details["reason"] == "session_ended:stopped")
            }
        }
    }

    @Test func aRecordedSessionsStreamIsRecordedListedDownloadedAndDeletedAfterItsRetention() async throws {
        let desktop = try await TestDesktop.start()
        defer { Task { await desktop.stop() } }
        try await Harness.run(.live, { $0.allowStreams() }) { harness, client in
            let admin = try await harness.account(.admin).token
            let on = try await client.send(.patch, "/api/policies/pol-session-recording", token: admin, json: #"{"enabled":true}"#)
            try #require(on.status == .ok, "\(on.text)")
            let viewer = try await Viewer.launch(harness, client, upstream: "vnc://127.0.0.1:\(desktop.port)")
            #expect(try await harness.store.session(id: viewer.sessionID)?.recording == true)
            _ = try await viewer.open(try await viewer.ticket()) { inbound, outbound in
                let reader = FrameReader(inbound)
                let screen = try await RFB.handshake(reader, outbound)
                _ = try await RFB.requestUpdate(reader, outbound, screen)
            }
            let sent = try #require(
                Int(try await viewer.trail(harness, client).first { $0.action == "stream_closed" }?.details["bytes_to_browser"] ?? ""))

            let listed = try await client.send(.get, "/api/recordings", token: admin)
            #expect(listed.status == .ok)
            let recordings = try #require(listed.json as? [[String: Any]])
            try #require(recordings.count == 1, "\(listed.text)")
            let recording = recordings[0]
            let id = try #require(recording["id"] as? String)
            #expect(recording["session_id"] as? String == viewer.sessionID)
            #expect(recording["retention_days"] as? Int == 30)
            #expect(recording["finished_at"] is String)
            #expect(recording["bytes_recorded"] as? Int == sent, "everything the desktop sent, and only that")
            #expect(try await client.send(.get, "/api/recordings", token: viewer.token).status == .forbidden)

            // The file: gzip, records of [milliseconds][length][bytes], the bytes the browser got.
            let download = try await client.execute(
                uri: "/api/recordings/\(id)", method: .get, headers: [.authorization: "Bearer \(admin)"], body: nil)
            #expect(download.status == .ok)
            #expect(download.headers[.contentType] == "application/gzip")
            var compressed = download.body
            var records = try compressed.decompress(with: .gzip)
            var total = 0
            var last: UInt64 = 0
            while records.readableBytes > 0 {
                let stamp = records.readInteger(as: UInt64.self)
                let size = records.readInteger(as: UInt32.self)
                let at = try #require(stamp)
                let length = try #require(size)
                let payload = records.readSlice(length: Int(length))
                try #require(payload != nil)
                #expect(at >= last, "timestamps never go back")
                last = at
                total += Int(length)
            }
            #expect(total == sent)
            #expect(recording["bytes_stored"] as? Int == download.body.readableBytes)
            // A HEAD gets the download's headers only, and is not a download: not audited.
            let head = try await client.send(.head, "/api/recordings/\(id)", token: admin)
            #expect(head.status == .ok && head.headers[.contentType] == "application/gzip" && head.text.isEmpty)
            #expect(head.headers[.contentLength] == String(download.body.readableBytes), "the GET's length, not 0")
            #expect(try await client.send(.head, "/api/recordings/\(id)", token: viewer.token).status == .forbidden)
            #expect(try await harness.store.events(AuditQuery(action: .recordingDownloaded)).count == 1)

            // Kept for its retention, then gone, audited.
            let archive = try #require(harness.portal.recordings)
            #expect(try await archive.applyRetention(at: Date().addingTimeInterval(29 * 86_400)) == 0)
            #expect(try await archive.applyRetention(at: Date().addingTimeInterval(31 * 86_400)) == 1)
            #expect(try await client.send(.get, "/api/recordings/\(id)", token: admin).status == .notFound)
            #expect(try await client.send(.delete, "/api/recordings/\(id)", token: admin).status == .notFound)
            let audited = try await harness.store.events(AuditQuery(limit: 500)).filter { $0.resourceID == id }.map(\.action.rawValue)
            #expect(Set(audited) == ["recording_started", "recording_finished", "recording_downloaded", "recording_deleted"])
        }
    }

    @Test func anAdministratorDeletesARecording() async throws {
        let desktop = try await TestDesktop.start()
        defer { Task { await desktop.stop() } }
        try await Harness.run(.live, { $0.allowStreams() }) { harness, client in
            let admin = try await harness.account(.admin).token
            _ = try await client.send(.patch, "/api/policies/pol-session-recording", token: admin, json: #"{"enabled":true}"#)
            let viewer = try await Viewer.launch(harness, client, upstream: "vnc://127.0.0.1:\(desktop.port)")
            _ = try await viewer.open(try await viewer.ticket()) { inbound, outbound in
                _ = try await RFB.handshake(FrameReader(inbound), outbound)
            }
            let listed = try #require(try await client.send(.get, "/api/recordings", token: admin).json as? [[String: Any]])
            let id = try #require(listed.first?["id"] as? String)
            #expect(try await client.send(.delete, "/api/recordings/\(id)", token: viewer.token).status == .forbidden)
            #expect(try await client.send(.delete, "/api/recordings/\(id)", token: admin).status == .noContent)
            #expect((try await client.send(.get, "/api/recordings", token: admin).json as? [Any])?.isEmpty == true)
            let deleted = try await harness.store.events(AuditQuery(action: .recordingDeleted, limit: 10))
            #expect(deleted.first?.details["reason"] == "deleted" && deleted.first?.resourceID == id)
        }
    }

    @Test func aBrowserThatStopsReadingIsCutAllTheSame() async throws {
        // A workspace that sends as fast as it can, to a viewer that has stopped reading: NeoSC's
        // writes to the browser stall. Stopping the session must still cut the stream (and stop
        // the other direction at once), not wait behind the stalled writes.
        let firehose = try FirehoseListener()
        defer { firehose.close() }
        try await Harness.run(.live, { $0.allowStreams() }) { harness, client in
            let viewer = try await Viewer.launch(harness, client, upstream: "vnc://127.0.0.1:\(firehose.port)")
            let closedWithin = Mutex<Duration?>(nil)
            _ = try? await viewer.open(try await viewer.ticket()) { inbound, _ in
                let reader = FrameReader(inbound)
                _ = try await reader.read(1)
                try await Task.sleep(for: .milliseconds(500))  // reading nothing while the workspace sends
                let stopped = try await client.send(.post, "/api/workspaces/\(viewer.workspaceID)/stop", token: viewer.token)
                #expect(stopped.status == .ok)
                let started = ContinuousClock.now
                // Still reading nothing: NeoSC lets go of the workspace all the same (nothing more
                // passes either way once the session has ended).
                let released = try await eventually { firehose.endedAt != nil }
                #expect(released, "the workspace's connection was still open 30 s after the stop")
                if let ended = firehose.endedAt {
                    #expect(ended - started < .seconds(Self.cutBound), "released \(ended - started) after the stop")
                }
                // Reading again: what was queued, then the end (the close, or the connection closed
                // outright), not an endless stream.
                do { try await reader.drain() } catch is FrameReader.StillOpen { return } catch {}
                closedWithin.withLock { $0 = ContinuousClock.now - started }
            }
            let closed = try #require(closedWithin.withLock { $0 }, "the stream was never cut")
            #expect(closed < .seconds(Self.cutBound), "cut \(closed) after the stop")
            let entry = try await viewer.trail(harness, client).first { $0.action == "stream_closed" }
            #expect(entry?.details["reason"] == "session_ended:stopped", "the cut is audited")
        }
    }

    @Test func aDisabledUsersStreamIsCut() async throws {
        let desktop = try await TestDesktop.start()
        defer { Task { await desktop.stop() } }
        try await Harness.run(.live, { $0.allowStreams(reviewed: false) }) { harness, client in
            let viewer = try await Viewer.launch(harness, client, upstream: "vnc://127.0.0.1:\(desktop.port)")
            let admin = try await harness.account(.admin).token
            let close = try await viewer.open(try await viewer.ticket()) { inbound, outbound in
                let reader = FrameReader(inbound)
                _ = try await RFB.handshake(reader, outbound)
                let disabled = try await client.send(.patch, "/api/users/\(viewer.userID)", token: admin, json: #"{"disabled":true}"#)
                #expect(disabled.status == .ok)
                try await reader.drain()
            }
            #expect(close?.closeCode == .unknown(4000))
            #expect(close?.reason == "Session ended: user_disabled")
        }
    }

    /// The ends of a session the tests around this one do not make, each cutting a stream that
    /// carries a real desktop: the owner's disconnect, logout and password change (a probe: a
    /// desktop someone opened with a stolen token outlived the owner's new password), an
    /// administrator's password reset or workspace deletion, the idle timeout and the workspace's
    /// maximum duration (those two on a clock the test moves, so that a minute's lifetime takes
    /// no minute).
    enum Ending: String, CaseIterable, Sendable {
        case disconnected, logout, passwordChanged, passwordReset, workspaceDeleted, idleTimeout, maxDuration

        /// The reason the viewer is told, after "Session ended: ".
        var reason: String {
            switch self {
            case .passwordChanged: "password_changed"
            case .passwordReset: "password_reset"
            case .workspaceDeleted: "workspace_deleted"
            case .idleTimeout: "idle_timeout"
            case .maxDuration: "max_duration"
            case .disconnected, .logout: rawValue
            }
        }
    }

    @Test(arguments: Ending.allCases)
    func everyOtherEndOfASessionCutsItsStreamAtOnce(_ ending: Ending) async throws {
        let desktop = try await TestDesktop.start()
        defer { Task { await desktop.stop() } }
        let clock = ManualClock()
        let settings: (inout Configuration) -> Void = { configuration in
            configuration.allowStreams(reviewed: false)
            if ending == .idleTimeout { configuration.demo.idleTimeout = 3 }
        }
        try await Harness.run(.live, clock: clock.wallClock, settings) { harness, client in
            let viewer = try await Viewer.launch(
                harness, client, upstream: "vnc://127.0.0.1:\(desktop.port)", maxSessionMinutes: ending == .maxDuration ? 1 : nil)
            let admin = try await harness.account(.admin).token
            let endedAt = Mutex<Date?>(nil)
            let closedAt = Mutex<Date?>(nil)
            let close = try await viewer.open(try await viewer.ticket()) { inbound, outbound in
                let reader = FrameReader(inbound)
                _ = try await RFB.handshake(reader, outbound)
                let answer: Reply? =
                    switch ending {
                    case .disconnected: try await client.send(.post, "/api/sessions/\(viewer.sessionID)/disconnect", token: viewer.token)
                    case .logout: try await client.send(.post, "/api/auth/logout", token: viewer.token)
                    case .passwordChanged:
                        try await client.send(
                            .post, "/api/auth/password", token: viewer.token,
                            json: body(["current_password": Harness.password, "new_password": "a brand new pass phrase"]))
                    case .passwordReset: try await client.send(.post, "/api/users/\(viewer.userID)/password-reset", token: admin)
                    case .workspaceDeleted: try await client.send(.delete, "/api/workspaces/\(viewer.workspaceID)", token: admin)
                    case .idleTimeout, .maxDuration: nil
                    }
                if let answer {
                    #expect(answer.status == .ok, "\(answer.text)")
                    endedAt.withLock { $0 = Date() }
                } else {
                    // The deadline passes on the test's clock; the session has ended when the
                    // store says so (looked at every 50 ms), and the cut is timed from then.
                    clock.advance(ending == .idleTimeout ? 3.5 : 61)
                    let ended = try await eventually {
                        try await harness.store.session(id: viewer.sessionID)?.status != .active
                    }
                    #expect(ended, "the deadline ended the session")
                    endedAt.withLock { $0 = Date() }
                }
                try await reader.drain()
                closedAt.withLock { $0 = Date() }
            }
            #expect(close?.closeCode == .unknown(4000))
            #expect(close?.reason == "Session ended: \(ending.reason)")
            let cut = try #require(closedAt.withLock { $0 }).timeIntervalSince(try #require(endedAt.withLock { $0 }))
            // At once: with reviews off nothing else would ever cut it (see cutBound).
            #expect(cut < Self.cutBound, "the stream outlived its session by \(cut) s")
            let closed = try await viewer.trail(harness, client).first { $0.action == "stream_closed" }
            #expect(closed?.details["reason"] == "session_ended:\(ending.reason)", "the cut is audited")
        }
    }

    @Test func aDemoLosesItsStreamWhenItExpires() async throws {
        let desktop = try await TestDesktop.start()
        defer { Task { await desktop.stop() } }
        // The demo's deadline passes on the test's clock, once the stream is open: a loaded
        // machine cannot let it pass during the set-up.
        let clock = ManualClock()
        let settings: (inout Configuration) -> Void = { configuration in
            configuration.allowStreams(reviewed: false)
            configuration.demo.enabled = true
            configuration.demo.lifetime = 300
            configuration.demo.maxDuration = 600
        }
        try await Harness.run(.live, clock: clock.wallClock, settings) { harness, client in
            let admin = try await harness.account(.admin).token
            let streamed = try await client.send(
                .put, "/api/workspaces/ws-secure-browser", token: admin, json: body(["stream_upstream": "vnc://127.0.0.1:\(desktop.port)"]))
            try #require(streamed.status == .ok, "\(streamed.text)")
            let created = try await client.send(
                .post, "/api/demo/sessions", json: body(["workspace_type": "browser", "email": "visitor@example.com"]))
            try #require(created.status == .created, "\(created.text)")
            let demo = try created.decoded(DemoCreatedBody.self)
            let launched = try await client.send(.post, "/api/workspaces/ws-secure-browser/launch", token: demo.accessToken)
            try #require(launched.status == .created, "\(launched.text)")
            let viewer = Viewer(
                token: demo.accessToken, userID: "", sessionID: try launched.decoded(LaunchBody.self).sessionID,
                workspaceID: "ws-secure-browser", client: client)
            let endedAt = Mutex<Date?>(nil)
            let closedAt = Mutex<Date?>(nil)
            let close = try await viewer.open(try await viewer.ticket()) { inbound, outbound in
                let reader = FrameReader(inbound)
                _ = try await RFB.handshake(reader, outbound)
                // The stored deadline (+1 ms: the stored and the armed date may differ in the last bit).
                let expiresAt = try #require(try await harness.store.demo(id: demo.demoSessionID)?.expiresAt)
                clock.advance(to: expiresAt + 0.001)
                let ended = try await eventually {
                    try await harness.store.session(id: viewer.sessionID)?.status != .active
                }
                #expect(ended, "the demo's expiry ended its session")
                endedAt.withLock { $0 = Date() }
                try await reader.drain()
                closedAt.withLock { $0 = Date() }
            }
            #expect(close?.closeCode == .unknown(4000))
            #expect(close?.reason == "Session ended: demo_ended")
            let cut = try #require(closedAt.withLock { $0 }).timeIntervalSince(try #require(endedAt.withLock { $0 }))
            // At once: with reviews off nothing else would ever cut it (see cutBound).
            #expect(cut < Self.cutBound, "the stream outlived its session by \(cut) s")
        }
    }

    @Test func aPolicyThatNowRefusesTheSessionCutsItsStreamAndRefusesNewTickets() async throws {
        let desktop = try await TestDesktop.start()
        defer { Task { await desktop.stop() } }
        try await Harness.run(.live, { $0.allowStreams() }) { harness, client in
            let viewer = try await Viewer.launch(harness, client, upstream: "vnc://127.0.0.1:\(desktop.port)")
            let admin = try await harness.account(.admin).token
            // A window that is closed now: it opens two hours from now, for an hour (UTC). It ends
            // by midnight ("24:00" at the latest), so it is never an overnight window, which
            // would need `overnight: true` (at 21:xx UTC this test once asked for 23:00–00:00).
            let hour = Calendar(identifier: .gregorian).dateComponents(in: .gmt, from: Date()).hour ?? 0
            let opens = (hour + 2) % 24
            let window =
                [
                    "id": "pol-later", "name": "Later only", "kind": "time_window", "enabled": true, "scope": ["roles": ["neosc"]],
                    "settings": [
                        "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": String(format: "%02d:00", opens),
                        "end": String(format: "%02d:00", opens + 1), "time_zone": "UTC", "applies_to": "launch",
                    ],
                ] as [String: Any]
            let policy = body(window)
            let close = try await viewer.open(try await viewer.ticket()) { inbound, outbound in
                let reader = FrameReader(inbound)
                _ = try await RFB.handshake(reader, outbound)
                let created = try await client.send(.post, "/api/policies", token: admin, json: policy)
                #expect(created.status == .created, "\(created.text)")
                try await reader.drain()
            }
            #expect(close?.closeCode == .unknown(4003))
            #expect(close?.reason == "Refused by policy pol-later")
            let refused = try await client.send(.post, "/api/sessions/\(viewer.sessionID)/stream-ticket", token: viewer.token)
            #expect(refused.status == .forbidden)
            #expect((refused["detail"] as? String)?.hasPrefix("Refused by policy pol-later") == true)
            // As a launch's refusal is: the policy in the answer, and in the trail (a probe: neither).
            #expect(refused["policy"] as? String == "pol-later", "\(refused.text)")
            let denied = try await harness.store.events(AuditQuery(action: .policyDenied, limit: 10))
            #expect(denied.contains { $0.details["policy"] == "pol-later" && $0.details["stage"] == "launch" }, "\(denied.map(\.details))")
            let closed = try await viewer.trail(harness, client).filter { $0.action == "stream_closed" }
            #expect(closed.map { $0.details["reason"] } == ["policy_refused:pol-later"])
            #expect(try await harness.store.session(id: viewer.sessionID)?.status == .active, "the session itself goes on")
        }
    }

    /// What an administrator changes of a streaming account.
    enum AccountChange: String, CaseIterable, Sendable { case organization, role }

    /// A running stream is judged with the role its account has now, in the organisation it is
    /// in now: moved into one that a refusing policy covers, or given a role one covers, the
    /// account loses its stream at the next review (a probe: a new role did not cut it, while its
    /// next ticket was refused).
    @Test(arguments: AccountChange.allCases)
    func anAccountChangedWhereAPolicyRefusesLosesItsStream(_ change: AccountChange) async throws {
        let desktop = try await TestDesktop.start()
        defer { Task { await desktop.stop() } }
        try await Harness.run(.live, { $0.allowStreams() }) { harness, client in
            let viewer = try await Viewer.launch(harness, client, upstream: "vnc://127.0.0.1:\(desktop.port)")
            let admin = try await harness.account(.admin).token
            let scope: [String: any Sendable]
            let patch: String
            switch change {
            case .organization:
                let organization = try await client.send(.post, "/api/organizations", token: admin, json: #"{"name":"Branch office"}"#)
                try #require(organization.status == .created, "\(organization.text)")
                let organizationID = try organization.decoded(OrganizationBody.self).id
                (scope, patch) = (["organizations": [organizationID]], #"{"organization_id":"\#(organizationID)"}"#)
            case .role:
                (scope, patch) = (["roles": ["admin"]], #"{"role":"admin"}"#)
            }
            let elsewhere = body([
                "id": "pol-branch-network", "name": "Branch network only", "kind": "address_allowlist", "enabled": true,
                "scope": scope, "settings": ["cidrs": ["203.0.113.0/24"], "applies_to": "launch"],
            ])
            let created = try await client.send(.post, "/api/policies", token: admin, json: elsewhere)
            try #require(created.status == .created, "\(created.text)")
            let close = try await viewer.open(try await viewer.ticket()) { inbound, outbound in
                let reader = FrameReader(inbound)
                _ = try await RFB.handshake(reader, outbound)
                let changed = try await client.send(.patch, "/api/users/\(viewer.userID)", token: admin, json: patch)
                #expect(changed.status == .ok, "\(changed.text)")
                try await reader.drain()
            }
            #expect(close?.closeCode == .unknown(4003))
            #expect(close?.reason == "Refused by policy pol-branch-network")
        }
    }

    /// A graceful shutdown closes the streams open (the WebSocket library's close, 1000), each
    /// audited `shutdown`, not as the browser's doing; their sessions go on.
    @Test func aShutdownIsAuditedAsOne() async throws {
        let desktop = try await TestDesktop.start()
        defer { Task { await desktop.stop() } }
        let harness = try await Harness.open { $0.allowStreams() }
        do {
            let opened = Mutex<(sessionID: String, stream: Task<WebSocketCloseFrame?, any Error>)?>(nil)
            try await harness.serve(.live) { client in
                let viewer = try await Viewer.launch(harness, client, upstream: "vnc://127.0.0.1:\(desktop.port)")
                let grant = try await viewer.ticket()
                let (handshaken, done) = AsyncStream.makeStream(of: Void.self)
                let stream = Task {
                    try await viewer.open(grant) { inbound, outbound in
                        let reader = FrameReader(inbound)
                        _ = try await RFB.handshake(reader, outbound)
                        done.yield()
                        try await reader.drain()
                    }
                }
                opened.withLock { $0 = (viewer.sessionID, stream) }
                for await _ in handshaken { break }
                // Returning shuts the server down gracefully, the stream still open.
            }
            let (sessionID, stream) = try #require(opened.withLock { $0 })
            #expect(try await stream.value?.closeCode == .normalClosure)
            var reasons: [String?] = []
            let audited = try await eventually {
                reasons = try await harness.store.events(AuditQuery(action: .streamClosed, limit: 10)).map { $0.details["reason"] }
                return !reasons.isEmpty
            }
            #expect(audited && reasons == ["shutdown"], "\(reasons)")
            #expect(try await harness.store.session(id: sessionID)?.status == .active, "the session goes on")
        } catch {
            try? await harness.close(removing: true)
            throw error
        }
        try await harness.close(removing: true)
    }

    /// An upgraded connection carries no more HTTP requests: neither the head's nor the body's
    /// read deadline cuts a stream that runs past them.
    @Test func aStreamOutlivesTheRequestReadDeadlines() async throws {
        let desktop = try await TestDesktop.start()
        defer { Task { await desktop.stop() } }
        try await Harness.run(
            .live,
            {
                $0.allowStreams(reviewed: false)
                $0.headerTimeout = 1
                $0.bodyTimeout = 1
            }
        ) { harness, client in
            let viewer = try await Viewer.launch(harness, client, upstream: "vnc://127.0.0.1:\(desktop.port)")
            let rectangles = Mutex(0)
            let close = try await viewer.open(try await viewer.ticket()) { inbound, outbound in
                let reader = FrameReader(inbound)
                let screen = try await RFB.handshake(reader, outbound)
                try await Task.sleep(for: .milliseconds(2_500))
                let updated = try await RFB.requestUpdate(reader, outbound, screen)
                rectangles.withLock { $0 = updated }
                _ = try await client.send(.post, "/api/workspaces/\(viewer.workspaceID)/stop", token: viewer.token)
                try await reader.drain()
            }
            #expect(rectangles.withLock { $0 } >= 1, "the desktop still answers")
            #expect(close?.reason == "Session ended: stopped")
        }
    }

    @Test func aSessionEndedByAnotherProcessLosesItsStream() async throws {
        let desktop = try await TestDesktop.start()
        defer { Task { await desktop.stop() } }
        try await Harness.run(.live, { $0.allowStreams() }) { harness, client in
            let viewer = try await Viewer.launch(harness, client, upstream: "vnc://127.0.0.1:\(desktop.port)")
            let close = try await viewer.open(try await viewer.ticket()) { inbound, outbound in
                let reader = FrameReader(inbound)
                _ = try await RFB.handshake(reader, outbound)
                // Straight in the store, as another replica (or `neosc admin`) would: this process
                // hears of it only from its review of running streams.
                _ = try await harness.store.end(id: viewer.sessionID, .stopped, at: Date())
                try await reader.drain()
            }
            #expect(close?.closeCode == .unknown(4000))
            #expect(close?.reason == "Session ended: stopped")
        }
    }

    @Test func ticketsAreTheOwnersSingleUseAndBoundToTheirAddress() async throws {
        let desktop = try await TestDesktop.start()
        defer { Task { await desktop.stop() } }
        try await Harness.run(.live, { $0.allowStreams(trustingProxy: "127.0.0.1") }) { harness, client in
            let viewer = try await Viewer.launch(harness, client, upstream: "vnc://127.0.0.1:\(desktop.port)")
            // A stranger, even an administrator, gets no ticket for someone else's session.
            for role in [Role.neosc, .admin] {
                let stranger = try await harness.account(role).token
                let refused = try await client.send(.post, "/api/sessions/\(viewer.sessionID)/stream-ticket", token: stranger)
                #expect(refused.status == .notFound)
            }
            // Used once: the second use of the same ticket is refused before anything is dialled.
            let grant = try await viewer.ticket()
            let first = try await viewer.open(grant) { inbound, outbound in
                let reader = FrameReader(inbound)
                _ = try await RFB.handshake(reader, outbound)
            }
            #expect(first?.closeCode == .normalClosure)
            let replay = try await viewer.refusal(grant)
            #expect(replay.code == 1008)
            #expect(replay.reason.contains("unknown or already used"))
            // Issued to the client a trusted proxy named; presented by another.
            let elsewhere = try await viewer.ticket(headers: [HTTPField.Name("X-Forwarded-For")!: "203.0.113.9"])
            let moved = try await viewer.refusal(elsewhere)
            #expect(moved.code == 1008)
            #expect(moved.reason.contains("another client address"))
            // A ticket for one session does not open another's.
            let other = try await Viewer.launch(harness, client, upstream: nil, reuse: viewer)
            let crossed = try await viewer.refusal(try await other.ticket(), sessionID: viewer.sessionID)
            #expect(crossed.code == 1008)
            let refusals = try await viewer.trail(harness, client).filter { $0.action == "stream_opened" && !$0.success }
            #expect(
                Set(refusals.compactMap { $0.details["reason"] })
                    == ["ticket_unknown", "ticket_from_another_address", "ticket_for_another_session"])
        }
    }

    @Test func aFloodOfBadTicketsIsAuditedFoldedNotOneEntryEach() async throws {
        // The refusals fold into a window from the first: on a clock that stands still, twenty
        // handshakes on a loaded machine all fall in it, and the review never closes it early.
        let clock = ManualClock(Date())
        try await Harness.run(.live, clock: clock.wallClock, { $0.allowStreams() }) { harness, client in
            let viewer = try await Viewer.launch(harness, client, upstream: "vnc://127.0.0.1:5900")
            let forged = Viewer.Grant(ticket: "forged", streamURL: "", expiresAt: Date(), sessionID: viewer.sessionID)
            for _ in 0..<20 {
                #expect(try await viewer.refusal(forged).code == 1008)
            }
            let refused = { try await harness.store.events(AuditQuery(action: .streamOpened, limit: 100)) }
            try #require(try await eventually { try await refused().count == 1 }, "the first is written at once")
            #expect(await harness.portal.streams.auditFoldedRefusals(everything: true) == 1)
            let entries = try await refused()
            #expect(entries.count == 2, "the other nineteen are one entry")
            #expect(entries.first { $0.details["repeated"] != nil }?.details["repeated"] == "19")
        }
    }

    @Test func aWssUpstreamWhoseCertificateIsNotTrustedIsRefused() async throws {
        // websockify behind TLS with a certificate of its own, for the address NeoSC dials:
        // trusted by nobody, so the TLS handshake fails and nothing is relayed.
        let directory = Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificate = try await SelfSignedCertificate.make(in: directory, commonName: "127.0.0.1", subjectAltName: "IP:127.0.0.1")
        try await TestDesktop.withWebSocketFront(certificate: certificate) { port in
            try await Harness.run(.live, { $0.allowStreams() }) { harness, client in
                let viewer = try await Viewer.launch(harness, client, upstream: "wss://127.0.0.1:\(port)/")
                let refused = try await viewer.refusal(try await viewer.ticket())
                #expect(refused.code == 1014 && refused.reason == "The workspace did not answer")
                let trail = try await viewer.trail(harness, client).filter { $0.action == "stream_opened" }
                #expect(trail.map(\.success) == [false] && trail.first?.details["reason"] == "upstream_unreachable")
            }
        }
    }

    @Test func aWssUpstreamWhoseCertificateTheOperatorTrustsIsRelayed() async throws {
        // The same websockify behind TLS, its certificate now the one NEOSC_STREAM_UPSTREAM_CA
        // names (as an internal CA's would be): the handshake and an update pass through.
        try await Self.withTrustedWssFront(subjectAltName: "IP:127.0.0.1") { harness, client, port in
            let viewer = try await Viewer.launch(harness, client, upstream: "wss://127.0.0.1:\(port)/")
            let width = Mutex<Int?>(nil)
            let close = try await viewer.open(try await viewer.ticket(), protocols: ["binary"]) { inbound, outbound in
                let reader = FrameReader(inbound)
                let screen = try await RFB.handshake(reader, outbound)
                _ = try await RFB.requestUpdate(reader, outbound, screen)
                width.withLock { $0 = screen.width }
                #expect(try await client.send(.post, "/api/workspaces/\(viewer.workspaceID)/stop", token: viewer.token).status == .ok)
                try await reader.drain()
            }
            #expect(width.withLock { $0 } == 320)
            #expect(close?.closeCode == .unknown(4000))
            let opened = try #require(try await viewer.trail(harness, client).first { $0.action == "stream_opened" })
            #expect(opened.success && opened.details["upstream"] == "wss://127.0.0.1:\(port)/")
        }
    }

    @Test func aTrustedCertificateForAnotherNameIsRefused() async throws {
        // Trusted, but issued for a name NeoSC did not dial: the host name check still applies.
        try await Self.withTrustedWssFront(subjectAltName: "DNS:desk.example") { harness, client, port in
            let viewer = try await Viewer.launch(harness, client, upstream: "wss://127.0.0.1:\(port)/")
            let refused = try await viewer.refusal(try await viewer.ticket())
            #expect(refused.code == 1014 && refused.reason == "The workspace did not answer")
            let trail = try await viewer.trail(harness, client).filter { $0.action == "stream_opened" }
            #expect(trail.map(\.success) == [false] && trail.first?.details["reason"] == "upstream_unreachable")
        }
    }

    /// websockify behind TLS with a self-signed certificate for `subjectAltName`, and NeoSC
    /// trusting that certificate for `wss://` upstreams (as `NEOSC_STREAM_UPSTREAM_CA` makes it).
    static func withTrustedWssFront(
        subjectAltName: String, _ body: @escaping @Sendable (Harness, any TestClientProtocol, _ port: Int) async throws -> Void
    ) async throws {
        let directory = Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificate = try await SelfSignedCertificate.make(in: directory, commonName: "desk", subjectAltName: subjectAltName)
        let trust = try UpstreamTrust(certificates: NIOSSLCertificate.fromPEMFile(certificate.certificate))
        try await TestDesktop.withWebSocketFront(certificate: certificate) { port in
            try await Harness.run(
                .live,
                {
                    $0.allowStreams()
                    $0.streamSettings.upstreamTrust = trust
                }
            ) { harness, client in try await body(harness, client, port) }
        }
    }

    @Test func anExpiredTicketIsRefused() async throws {
        let clock = ManualClock()
        try await Harness.run(.live, clock: clock.wallClock, { $0.allowStreams() }) { harness, client in
            let viewer = try await Viewer.launch(harness, client, upstream: "vnc://127.0.0.1:5900")
            let grant = try await viewer.ticket()
            clock.advance(601)
            let close = try await viewer.refusal(grant)
            #expect(close.code == 1008)
            #expect(close.reason.contains("expired"))
        }
    }

    @Test func anUpstreamThatRefusesOrStaysSilentGetsTheBrowserACleanClose() async throws {
        let silent = try SilentListener()
        defer { silent.close() }
        let closedPort = try FreePort.pick()
        try await Harness.run(.live, { $0.allowStreams(firstByteTimeout: .milliseconds(500)) }) { harness, client in
            let refusing = try await Viewer.launch(harness, client, upstream: "vnc://127.0.0.1:\(closedPort)")
            // By hand: a close sent right after the handshake can reach swift-websocket's client in
            // the same read as the 101, which it then never delivers (seen under load); browsers
            // have no such trouble, and the bytes NeoSC sends are what is tested.
            let refused = try await refusing.refusal(try await refusing.ticket())
            #expect(refused.code == 1014)

            let quiet = try await Viewer.launch(harness, client, upstream: "vnc://127.0.0.1:\(silent.port)")
            let started = ContinuousClock.now
            let hung = try await quiet.open(try await quiet.ticket()) { inbound, _ in try await FrameReader.drain(inbound) }
            #expect(hung?.closeCode == .unknown(1014))
            #expect(hung?.reason == "The workspace did not answer")
            // The reason names the first-byte timeout; the bound only tells it from none at all.
            #expect(ContinuousClock.now - started < .seconds(20))
            // A WebSocket upstream that takes the connection, reads the upgrade and never answers:
            // the browser is told once the first-byte timeout has passed, and NeoSC gives up the
            // upstream's connection then too (the upstream sees it closed).
            let deaf = try DeafListener()
            defer { deaf.close() }
            let mute = try await Viewer.launch(harness, client, upstream: "ws://127.0.0.1:\(deaf.port)/desktop")
            let handshakeStarted = ContinuousClock.now
            let unanswered = try await mute.refusal(try await mute.ticket())
            #expect(unanswered.code == 1014 && unanswered.reason == "The workspace did not answer")
            #expect(ContinuousClock.now - handshakeStarted < .seconds(20))
            let heard = try await deaf.closedByPeer(within: .seconds(20))
            #expect(heard.hasPrefix("GET /desktop HTTP/1.1\r\n"), "the upgrade reached the upstream: \(heard)")
            #expect(heard.lowercased().contains("upgrade: websocket"))
            let unreachable = try await refusing.trail(harness, client).filter { $0.action == "stream_opened" && !$0.success }
            #expect(unreachable.map { $0.details["reason"] } == ["upstream_unreachable"])
            let silence = try await quiet.trail(harness, client).filter { $0.action == "stream_closed" }
            #expect(silence.map { $0.details["reason"] } == ["upstream_silent"])
        }
    }

    /// The server's frames after the 101's head in `bytes` (short, unmasked: opcode, length, payload).
    static func serverFrames(_ bytes: [UInt8]) -> [(opcode: UInt8, payload: [UInt8])] {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = bytes.indices.dropLast(3).first(where: { Array(bytes[$0..<$0 + 4]) == separator }) else { return [] }
        var frames: [(UInt8, [UInt8])] = []
        var at = end + 4
        while at + 2 <= bytes.count, at + 2 + Int(bytes[at + 1] & 0x7F) <= bytes.count {
            let length = Int(bytes[at + 1] & 0x7F)
            frames.append((bytes[at] & 0x0F, Array(bytes[(at + 2)..<(at + 2 + length)])))
            at += 2 + length
        }
        return frames
    }

    /// A short frame as a browser sends it: masked, `opcode` (0 continuation, 1 text, 2 binary).
    static func maskedFrame(_ opcode: UInt8, fin: Bool = true, _ payload: [UInt8]) -> [UInt8] {
        precondition(payload.count < 126)
        let key: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]
        return [(fin ? 0x80 : 0) | opcode, 0x80 | UInt8(payload.count)] + key + payload.enumerated().map { $1 ^ key[$0 % 4] }
    }

    /// The close frame among `frames`: its code and reason.
    static func close(in frames: [(opcode: UInt8, payload: [UInt8])]) throws -> (code: UInt16, reason: String) {
        let close = try #require(frames.first { $0.opcode == 0x8 }, "a close frame")
        try #require(close.payload.count >= 2)
        return (UInt16(close.payload[0]) << 8 | UInt16(close.payload[1]), String(decoding: close.payload.dropFirst(2), as: UTF8.self))
    }

    /// A stream from `desktop` opened over a bare socket, greeted: to write frames a client
    /// library would not (unmasked, or split where the test chooses).
    static func bareStream(_ harness: Harness, _ client: any TestClientProtocol, to desktop: DeafListener) async throws -> LoopbackSocket {
        let viewer = try await Viewer.launch(harness, client, upstream: "vnc://127.0.0.1:\(desktop.port)")
        let grant = try await viewer.ticket()
        let socket = try await LoopbackSocket(port: try #require(client.port))
        socket.send(Viewer.handshake(sessionID: grant.sessionID, ticket: grant.ticket))
        let greeted = await socket.read(within: .seconds(15)) { serverFrames($0).count >= 1 }
        #expect(String(decoding: greeted.prefix(12), as: UTF8.self) == "HTTP/1.1 101")
        #expect(serverFrames(greeted).first.map { String(decoding: $0.payload, as: UTF8.self) } == "RFB 003.008\n")
        return socket
    }

    /// RFC 6455 §8.1: a text message that is not UTF-8 closes the stream (1007) at the frame that
    /// shows it, judged frame by frame; a character split between two frames passes, and so does
    /// a binary frame whatever its bytes. Over a bare socket, to choose each frame's bytes.
    @Test func aTextMessageThatIsNotUTF8ClosesTheStream() async throws {
        let desktop = try DeafListener(greeting: Array("RFB 003.008\n".utf8))
        defer { desktop.close() }
        try await Harness.run(.live, { $0.allowStreams() }) { harness, client in
            let socket = try await Self.bareStream(harness, client, to: desktop)
            // "é" (C3 A9) split between a text frame and its continuation, then a binary frame.
            socket.send(bytes: Self.maskedFrame(0x1, fin: false, [0xC3]) + Self.maskedFrame(0x0, [0xA9] + Array("ok".utf8)))
            socket.send(bytes: Self.maskedFrame(0x2, [0xFF]))
            // A text frame ending in the first two bytes of a surrogate (ED A0), which no next
            // frame can make UTF-8: refused now, not at the message's end.
            socket.send(bytes: Self.maskedFrame(0x1, fin: false, [0x61, 0xED, 0xA0]))
            let answered = await socket.read(within: .seconds(15)) { Self.serverFrames($0).contains { $0.opcode == 0x8 } }
            let close = try Self.close(in: Self.serverFrames(answered))
            #expect(close.code == 1007 && close.reason == "A text message must be UTF-8", "\(close)")
            #expect(await socket.isClosedByPeer(within: .seconds(15)))
            let heard = try await desktop.closedByPeer(within: .seconds(15))
            #expect(Array(heard.utf8) == [0xC3, 0xA9] + Array("ok".utf8) + Array("\u{FFFD}".utf8), "the refused frame went nowhere: \(heard)")
        }
    }

    /// RFC 6455 §5.4: a message's frames follow one another (control frames may come between):
    /// a continuation with no message under way, or a new message before the last one's end,
    /// closes the stream (1002), and the frame goes no further.
    @Test func framesOfAMessageOutOfOrderCloseTheStream() async throws {
        for (name, frames, heardBefore) in [
            ("a continuation with no message", [Self.maskedFrame(0x0, Array("late".utf8))], ""),
            (
                "a new message before the last one's end",
                [Self.maskedFrame(0x2, fin: false, Array("one".utf8)), [0x89, 0x80, 0, 0, 0, 0], Self.maskedFrame(0x2, Array("two".utf8))],
                "one"
            ),
        ] {
            let desktop = try DeafListener(greeting: Array("RFB 003.008\n".utf8))
            defer { desktop.close() }
            try await Harness.run(.live, { $0.allowStreams() }) { harness, client in
                let socket = try await Self.bareStream(harness, client, to: desktop)
                socket.send(bytes: frames.flatMap { $0 })
                let answered = await socket.read(within: .seconds(15)) { Self.serverFrames($0).contains { $0.opcode == 0x8 } }
                let close = try Self.close(in: Self.serverFrames(answered))
                #expect(close.code == 1002 && close.reason == "A message's frames must follow one another", "\(name): \(close)")
                #expect(await socket.isClosedByPeer(within: .seconds(15)), "\(name)")
                #expect(try await desktop.closedByPeer(within: .seconds(15)) == heardBefore, "\(name)")
            }
        }
    }

    /// RFC 6455 §5.1: a server closes on a frame its client did not mask (1002), and the frame
    /// goes no further. Over a bare socket: a client library masks whatever it is told.
    @Test func anUnmaskedFrameFromTheBrowserClosesTheStream() async throws {
        let desktop = try DeafListener(greeting: Array("RFB 003.008\n".utf8))
        defer { desktop.close() }
        try await Harness.run(.live, { $0.allowStreams() }) { harness, client in
            let socket = try await Self.bareStream(harness, client, to: desktop)
            let frames = Self.serverFrames
            socket.send(bytes: Self.maskedFrame(0x2, Array("ok".utf8)))
            socket.send(bytes: [0x82, 5] + Array("hello".utf8))
            let answered = await socket.read(within: .seconds(15)) { frames($0).contains { $0.opcode == 0x8 } }
            let close = try Self.close(in: frames(answered))
            #expect(close.code == 1002 && close.reason == "A client's frames must be masked", "\(close)")
            #expect(await socket.isClosedByPeer(within: .seconds(15)))
            let heard = try await desktop.closedByPeer(within: .seconds(15))
            #expect(heard == "ok", "the masked frame reached the desktop, the unmasked one did not")
            // An unmasked frame sent with the handshake, in one write: NIO holds it back until the
            // upgrade is done, then passes it on, past the check all the same.
            let second = try DeafListener(greeting: Array("RFB 003.008\n".utf8))
            defer { second.close() }
            let other = try await Viewer.launch(harness, client, upstream: "vnc://127.0.0.1:\(second.port)")
            let otherGrant = try await other.ticket()
            let eager = try await LoopbackSocket(port: try #require(client.port))
            let handshake = Viewer.handshake(sessionID: otherGrant.sessionID, ticket: otherGrant.ticket)
            eager.send(bytes: Array(handshake.utf8) + [0x82, 5] + Array("early".utf8))
            let refused = await eager.read(within: .seconds(15)) { frames($0).contains { $0.opcode == 0x8 } }
            #expect(String(decoding: refused.prefix(12), as: UTF8.self) == "HTTP/1.1 101")
            #expect(try Self.close(in: frames(refused)).code == 1002)
            #expect(await eager.isClosedByPeer(within: .seconds(15)))
            #expect(try await client.execute(uri: "/health", method: .get).status == .ok)
        }
    }

    @Test func inputFromTheBrowserKeepsTheSessionAlive() async throws {
        let desktop = try await TestDesktop.start()
        defer { Task { await desktop.stop() } }
        try await Harness.run(.live, { $0.allowStreams(activityInterval: .zero) }) { harness, client in
            let viewer = try await Viewer.launch(harness, client, upstream: "vnc://127.0.0.1:\(desktop.port)")
            let before = try await harness.store.session(id: viewer.sessionID)?.lastSeenAt
            try await Task.sleep(for: .milliseconds(20))
            _ = try await viewer.open(try await viewer.ticket()) { inbound, outbound in
                let reader = FrameReader(inbound)
                _ = try await RFB.handshake(reader, outbound)
            }
            let after = try await harness.store.session(id: viewer.sessionID)?.lastSeenAt
            #expect(try #require(after) > (try #require(before)))
        }
    }

    @Test func withoutAllowedUpstreamsThereAreNoTickets() async throws {
        try await Harness.run { harness, client in
            let token = try await harness.account(.neosc).token
            let launched = try await client.send(.post, "/api/workspaces/ws-linux-desktop/launch", token: token)
            let sessionID = try launched.decoded(LaunchBody.self).sessionID
            let refused = try await client.send(.post, "/api/sessions/\(sessionID)/stream-ticket", token: token)
            #expect(refused.status == .conflict)
            #expect(refused["detail"] as? String == "Streaming is off on this server (NEOSC_STREAM_UPSTREAMS is not set)")
            // Someone else's session, or none, is a 404 as everywhere, streaming on or off.
            let stranger = try await harness.account(.neosc).token
            #expect(try await client.send(.post, "/api/sessions/\(sessionID)/stream-ticket", token: stranger).status == .notFound)
            #expect(try await client.send(.post, "/api/sessions/no-such-session/stream-ticket", token: token).status == .notFound)
        }
    }
}

/// What a ticket must look like before the store is asked for it (a flood of made-up tickets
/// costs no store access).
@Suite struct StreamTicketShapeTests {
    @Test func onlyFortyThreeBase64URLCharactersAreLookedUp() {
        let issued = String(repeating: "aZ09-_", count: 7) + "x"
        #expect(issued.count == 43 && WorkspaceStreams.isWellFormed(issued))
        for made in [
            "", "forged", String(issued.dropLast()), issued + "x", String(issued.dropLast()) + "+",
            String(issued.dropLast()) + "=", String(issued.dropLast()) + "/", String(issued.dropLast()) + "é",
        ] {
            #expect(!WorkspaceStreams.isWellFormed(made), "\(made)")
        }
    }
}

extension Configuration {
    /// Streams to loopback upstreams allowed, with the given relay settings.
    mutating func allowStreams(
        trustingProxy proxy: String? = nil, firstByteTimeout: Duration = .seconds(10), activityInterval: Duration = .seconds(10),
        reviewed: Bool = true
    ) {
        streamUpstreams = StreamUpstreamAllowlist(ranges: [AddressRange("127.0.0.0/8")!])
        // A ticket outlives any wait between its grant and its use on a loaded machine (the
        // default 10 s does not); its expiry is tested on a clock the test moves.
        streamSettings.ticketLifetime = .seconds(600)
        streamSettings.firstByteTimeout = firstByteTimeout
        streamSettings.activityInterval = activityInterval
        // Without the review (once a second, it cuts what ended where this process did not hear
        // of it), only an end's own cut can close a stream in time: what the test is about.
        if !reviewed { streamSettings.reviewInterval = .seconds(3_600) }
        if let proxy { trustedProxies = TrustedProxies([AddressRange(proxy)!]) }
    }
}

/// A user with a session on a workspace that streams from `upstream`, and what it does with it.
struct Viewer {
    let token: String
    let userID: String
    let sessionID: String
    let workspaceID: String
    let client: any TestClientProtocol

    /// A workspace streaming from `upstream` (created by an administrator), launched by a new
    /// `neosc` user (or by `reuse`'s user, on another workspace).
    static func launch(
        _ harness: Harness, _ client: any TestClientProtocol, upstream: String?, reuse: Viewer? = nil,
        maxSessionMinutes: Int? = nil
    ) async throws -> Viewer {
        let admin = try await harness.account(.admin).token
        let workspaceID = "ws-stream-\(UUID().uuidString.prefix(8).lowercased())"
        let stream = upstream ?? "vnc://127.0.0.1:5900"
        let created = try await client.send(
            .post, "/api/workspaces", token: admin,
            json: body(
                [
                    "id": workspaceID, "name": "Streamed desktop", "type": "linux", "url": "/workspaces/\(workspaceID)",
                    "stream_upstream": stream, "allowed_roles": ["admin", "neosc"],
                ].merging(maxSessionMinutes.map { ["max_session_minutes": $0] } ?? [:]) { first, _ in first }))
        try #require(created.status == .created, "\(created.text)")
        let (userID, token): (String, String)
        if let reuse {
            (userID, token) = (reuse.userID, reuse.token)
        } else {
            let account = try await harness.account(.neosc)
            (userID, token) = (account.user.id, account.token)
        }
        let launched = try await client.send(.post, "/api/workspaces/\(workspaceID)/launch", token: token)
        try #require(launched.status == .created, "\(launched.text)")
        return Viewer(
            token: token, userID: userID, sessionID: try launched.decoded(LaunchBody.self).sessionID, workspaceID: workspaceID,
            client: client)
    }

    struct Grant: Decodable {
        let ticket: String
        let streamURL: String
        let expiresAt: Date
        let sessionID: String

        enum CodingKeys: String, CodingKey {
            case ticket
            case streamURL = "stream_url"
            case expiresAt = "expires_at"
            case sessionID = "session_id"
        }
    }

    func ticket(headers: HTTPFields = [:]) async throws -> Grant {
        let reply = try await client.send(.post, "/api/sessions/\(sessionID)/stream-ticket", token: token, headers: headers)
        try #require(reply.status == .created, "\(reply.text)")
        return try reply.decoded(Grant.self)
    }

    /// Opens the stream `grant` allows (of `sessionID`, by default the grant's own) and runs
    /// `body` on it; the close frame the server sent.
    func open(
        _ grant: Grant, sessionID: String? = nil, protocols: [String] = [],
        _ body: @escaping @Sendable (WebSocketInboundStream, WebSocketOutboundWriter) async throws -> Void
    ) async throws -> WebSocketCloseFrame? {
        let port = try #require(client.port)
        let url = "ws://127.0.0.1:\(port)/streams/\(sessionID ?? grant.sessionID)?ticket=\(grant.ticket)"
        var configuration = WebSocketClientConfiguration(maxFrameSize: 1 << 20)
        if !protocols.isEmpty { configuration.additionalHeaders[.secWebSocketProtocol] = protocols.joined(separator: ", ") }
        // How long a close the viewer starts waits for the server's: a bound for a loaded machine.
        configuration.closeTimeout = .seconds(30)
        return try await WebSocketClient.connect(url: url, configuration: configuration, logger: Harness.logger) {
            inbound, outbound, _ in try await body(inbound, outbound)
        }
    }

    /// The audit entries about this viewer's session, newest first.
    /// Opens the stream `grant` allows over a bare socket (the handshake by hand, RFC 6455) and
    /// reads the server's first frame: for a refusal, the close that says why. Independent of any
    /// client library: the bytes NeoSC sends, nothing else.
    func refusal(_ grant: Grant, sessionID: String? = nil) async throws -> (code: UInt16, reason: String) {
        try await Self.refusal(port: try #require(client.port), sessionID: sessionID ?? grant.sessionID, ticket: grant.ticket)
    }

    /// A stream's opening handshake as a browser writes it (RFC 6455 §4.1).
    static func handshake(sessionID: String, ticket: String) -> String {
        "GET /streams/\(sessionID)?ticket=\(ticket) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            + "Sec-WebSocket-Version: 13\r\n\r\n"
    }

    /// The same, for any server on a loopback `port`.
    static func refusal(port: Int, sessionID: String, ticket: String) async throws -> (code: UInt16, reason: String) {
        let socket = try await LoopbackSocket(port: port)
        #expect(socket.send(handshake(sessionID: sessionID, ticket: ticket)))
        let separator: [UInt8] = [13, 10, 13, 10]
        let headEnd = { (bytes: [UInt8]) in bytes.indices.dropLast(3).first { Array(bytes[$0..<$0 + 4]) == separator } }
        let bytes = await socket.read(within: .seconds(15)) { bytes in
            guard let end = headEnd(bytes), bytes.count >= end + 6 else { return false }
            return bytes.count >= end + 4 + 2 + Int(bytes[end + 5] & 0x7F)
        }
        let end = try #require(headEnd(bytes), "no handshake answer: \(String(decoding: bytes, as: UTF8.self))")
        #expect(String(decoding: bytes[..<end], as: UTF8.self).hasPrefix("HTTP/1.1 101"))
        let frame = Array(bytes[(end + 4)...])
        try #require(frame.count >= 4 && frame[0] == 0x88, "the first frame is a close: \(frame.prefix(8))")
        let length = Int(frame[1] & 0x7F)
        try #require(frame.count >= 2 + length)
        return (UInt16(frame[2]) << 8 | UInt16(frame[3]), String(decoding: frame[4..<(2 + length)], as: UTF8.self))
    }

    /// Once every stream that opened has also been recorded as closed (the server audits a
    /// stream's end after the viewer has seen it, up to its 5 s close timeout later; 30 s allowed
    /// for a loaded machine, returning as soon as the entries are there).
    func trail(_ harness: Harness, _ client: any TestClientProtocol) async throws -> [AuditEntryBody] {
        let admin = try await harness.account(.admin).token
        var entries: [AuditEntryBody] = []
        let deadline = ContinuousClock.now + .seconds(30)
        repeat {
            let reply = try await client.send(.get, "/api/audit-logs?limit=500", token: admin)
            entries = try reply.decoded([AuditEntryBody].self).filter { $0.resourceID == sessionID }
            let opened = entries.filter { $0.action == "stream_opened" && $0.success }.count
            if entries.filter({ $0.action == "stream_closed" }).count >= opened { return entries }
            try await Task.sleep(for: .milliseconds(50))
        } while ContinuousClock.now < deadline
        return entries
    }
}

/// Exact byte counts read out of a WebSocket's binary frames, however the bytes were framed.
/// A class, so a deadline can race its reads.
final class FrameReader: @unchecked Sendable {
    private var frames: WebSocketInboundStream.AsyncIterator
    private var buffer = ByteBuffer()

    init(_ inbound: WebSocketInboundStream) {
        frames = inbound.makeAsyncIterator()
    }

    func read(_ count: Int) async throws -> [UInt8] {
        while buffer.readableBytes < count {
            guard var frame = try await frames.next() else { throw Closed() }
            buffer.writeBuffer(&frame.data)
        }
        return buffer.readBytes(length: count)!
    }

    /// Reads until the server closes; fails if it has not within `limit` (no test hangs on a
    /// stream that was never cut). The limit only tells a cut from none: a passing test never
    /// waits for it, and a test that claims a time measures it itself.
    func drain(within limit: Duration = .seconds(20)) async throws {
        let closed = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                while try await self.frames.next() != nil {}
                return true
            }
            group.addTask {
                try await Task.sleep(for: limit)
                return false
            }
            let first = try await group.next() ?? false
            group.cancelAll()
            return first
        }
        if !closed { throw StillOpen(limit: limit) }
    }

    /// Reads `inbound` until the server closes it (a refusal: at once; the limit is for a
    /// machine the heavy suites load).
    static func drain(_ inbound: WebSocketInboundStream) async throws {
        try await FrameReader(inbound).drain()
    }

    struct Closed: Error {}

    struct StillOpen: Error, CustomStringConvertible {
        let limit: Duration
        var description: String { "the server had not closed the stream after \(limit)" }
    }
}

/// Just enough of an RFB 3.8 client (RFC 6143) to prove a desktop is on the other end.
enum RFB {
    struct Screen {
        let width: Int
        let height: Int
    }

    /// Version, security type None, ClientInit; the desktop's size from ServerInit.
    static func handshake(_ reader: FrameReader, _ outbound: WebSocketOutboundWriter) async throws -> Screen {
        let version = try await reader.read(12)
        #expect(String(decoding: version, as: UTF8.self) == "RFB 003.008\n")
        try await outbound.write(.binary(ByteBuffer(string: "RFB 003.008\n")))
        let count = Int(try await reader.read(1)[0])
        let types = try await reader.read(count)
        try #require(types.contains(1), "the desktop offers no security type None: \(types)")
        try await outbound.write(.binary(ByteBuffer(bytes: [1])))
        #expect(try await reader.read(4) == [0, 0, 0, 0])
        try await outbound.write(.binary(ByteBuffer(bytes: [1])))  // shared
        let initial = try await reader.read(24)
        let nameLength = Int(initial[20]) << 24 | Int(initial[21]) << 16 | Int(initial[22]) << 8 | Int(initial[23])
        _ = try await reader.read(nameLength)
        return Screen(width: Int(initial[0]) << 8 | Int(initial[1]), height: Int(initial[2]) << 8 | Int(initial[3]))
    }

    /// A full FramebufferUpdateRequest; the number of rectangles in the update that answers it.
    static func requestUpdate(_ reader: FrameReader, _ outbound: WebSocketOutboundWriter, _ screen: Screen) async throws -> Int {
        let (w, h) = (UInt8(screen.width >> 8), UInt8(screen.width & 0xFF))
        let (hh, hl) = (UInt8(screen.height >> 8), UInt8(screen.height & 0xFF))
        try await outbound.write(.binary(ByteBuffer(bytes: [3, 0, 0, 0, 0, 0, w, h, hh, hl])))
        let header = try await reader.read(4)
        #expect(header[0] == 0, "expected a FramebufferUpdate, got message type \(header[0])")
        return Int(header[2]) << 8 | Int(header[3])
    }
}

/// A loopback TCP port whose first connection is sent bytes as fast as it takes them, until it closes.
final class FirehoseListener: Sendable {
    let port: Int
    private let descriptor: Int32
    private let ended = Mutex<ContinuousClock.Instant?>(nil)

    /// When NeoSC closed the connection (the first send that failed).
    var endedAt: ContinuousClock.Instant? { ended.withLock { $0 } }

    init() throws {
        let listener = try SilentListener()
        (port, descriptor) = (listener.port, listener.descriptor)
        listener.serveOneConnection { [self] connection in
            let chunk = [UInt8](repeating: 0x5A, count: 65_536)
            while chunk.withUnsafeBytes({ send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) > 0 {}
            self.ended.withLock { $0 = .now }
        }
    }

    func close() {
        _ = shutdown(descriptor, Int32(SHUT_RDWR))
        _ = Glibc.close(descriptor)
    }
}

/// A loopback TCP port that accepts one connection, sends it `greeting` (by default nothing),
/// reads what it is sent and never answers.
final class DeafListener: Sendable {
    let port: Int
    private let descriptor: Int32
    /// What it read, once the peer closed the connection.
    private let heard = Mutex<String?>(nil)

    init(greeting: [UInt8] = []) throws {
        let listener = try SilentListener()
        (port, descriptor) = (listener.port, listener.descriptor)
        listener.serveOneConnection { [self] connection in
            _ = greeting.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4_096)
            while true {
                let count = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
                guard count > 0 else { break }
                bytes += chunk[..<count]
            }
            self.heard.withLock { $0 = String(decoding: bytes, as: UTF8.self) }
        }
    }

    /// What the connection carried, once its peer has closed it; throws if it is still open after `limit`.
    func closedByPeer(within limit: Duration) async throws -> String {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if let heard = heard.withLock({ $0 }) { return heard }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw LoopbackProcess.Missing(description: "the connection was still open after \(limit)")
    }

    func close() {
        _ = shutdown(descriptor, Int32(SHUT_RDWR))
        _ = Glibc.close(descriptor)
    }
}

/// A loopback TCP port that accepts connections (the kernel's backlog does) and never says a word.
final class SilentListener: Sendable {
    let port: Int
    let descriptor: Int32

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard descriptor >= 0, bound == 0, listen(descriptor, 8) == 0 else { throw LoopbackProcess.Missing(description: "listen failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        self.descriptor = descriptor
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// Accepts one connection on a thread of its own, hands it to `serve`, then closes it.
    func serveOneConnection(_ serve: @escaping @Sendable (_ connection: Int32) -> Void) {
        let descriptor = descriptor
        Thread.detachNewThread {
            let connection = accept(descriptor, nil, nil)
            guard connection >= 0 else { return }
            serve(connection)
            _ = Glibc.close(connection)
        }
    }

    func close() { _ = Glibc.close(descriptor) }
}
