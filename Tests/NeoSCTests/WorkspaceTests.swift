import Actors
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Net
import SQLiteStore
import Testing

@testable import App

@Suite struct WorkspaceTests {
    @Test func eachRoleSeesItsCatalogue() async throws {
        try await Harness.run { harness, client in
            var visible: [Role: Set<String>] = [:]
            for role in Role.allCases {
                let token = try await harness.account(role).token
                let listed = try await client.send(.get, "/api/workspaces", token: token).decoded([WorkspaceBody].self)
                visible[role] = Set(listed.map(\.id))
            }
            #expect(visible[.admin]?.count == 6)
            #expect(visible[.neosc] == ["ws-linux-desktop", "ws-windows-rdp", "ws-sap-gui", "ws-secure-browser", "ws-gpu-workstation"])
            #expect(visible[.user] == ["ws-linux-desktop", "ws-secure-browser"])
            #expect(visible[.demoUser] == ["ws-secure-browser"])
        }
    }

    /// A probe: with `demo-user` taken off the demo's workspace, the visitor's list and figures
    /// still showed it, while opening or launching it was refused.
    @Test func aDemoVisitorSeesItsWorkspaceOnlyWhileItAdmitsDemoVisitors() async throws {
        try await Harness.run { harness, client in
            let admin = try await harness.account(.admin).token
            let visitor = try await harness.account(.demoUser).token
            #expect(try await client.send(.get, "/api/workspaces", token: visitor).decoded([WorkspaceBody].self).map(\.id) == ["ws-secure-browser"])
            let before = try await client.send(.get, "/workspaces", headers: [.cookie: "neosc_session=\(visitor)", .accept: "text/html"], body: nil)
            #expect(before.status == .ok && before.text.contains("ws-secure-browser"), "the page names it while it admits demo visitors")
            let closed = try await client.send(
                .put, "/api/workspaces/ws-secure-browser", token: admin, json: #"{"allowed_roles":["admin","neosc","user"]}"#)
            #expect(closed.status == .ok, "\(closed.text)")
            #expect(try await client.send(.get, "/api/workspaces", token: visitor).decoded([WorkspaceBody].self).isEmpty)
            let figures = try await client.send(.get, "/api/stats", token: visitor).decoded(StatsBody.self)
            #expect(figures.totalWorkspaces == 0 && figures.availableWorkspaces == 0)
            #expect(try await client.send(.get, "/api/workspaces/ws-secure-browser", token: visitor).status == .forbidden)
            let page = try await client.send(.get, "/workspaces", headers: [.cookie: "neosc_session=\(visitor)", .accept: "text/html"], body: nil)
            #expect(page.status == .ok && !page.text.contains("ws-secure-browser"), "\(page.text.prefix(300))")
        }
    }

    @Test func launchStopAndActiveCounts() async throws {
        try await Harness.run { harness, client in
            let token = try await harness.account(.neosc).token
            let reply = try await client.send(.post, "/api/workspaces/ws-linux-desktop/launch", token: token)
            #expect(reply.status == .created)
            let launched = try reply.decoded(LaunchBody.self)
            #expect(launched.connectionURL == "/workspaces/linux-desktop")
            #expect(launched.launchMode == "iframe")
            #expect(launched.streamURL == "/workspaces/linux-desktop")
            #expect(launched.session.id == launched.sessionID)
            #expect(launched.session.status == "active")
            #expect(launched.session.mfaVerified == false)
            let expires = try #require(launched.session.expiresAt)
            #expect(expires.timeIntervalSince(launched.session.startedAt) == 480 * 60)
            #expect(launched.expiresAt == expires)

            let listed = try await client.send(.get, "/api/workspaces", token: token).decoded([WorkspaceBody].self)
            #expect(listed.first { $0.id == "ws-linux-desktop" }?.activeSessions == 1)
            let shown = try await client.send(.get, "/api/workspaces/ws-linux-desktop", token: token).decoded(WorkspaceBody.self)
            #expect(shown.activeSessions == 1)

            let stopped = try await client.send(.post, "/api/workspaces/ws-linux-desktop/stop", token: token)
            #expect(stopped.status == .ok)
            let ended = try stopped.decoded(StoppedBody.self).session
            #expect(ended.id == launched.sessionID)
            #expect(ended.status == "terminated")
            #expect(ended.endedAt != nil)
            let again = try await client.send(.post, "/api/workspaces/ws-linux-desktop/stop", token: token)
            #expect(again.status == .conflict)
            #expect(try again.decoded(ErrorBody.self).detail.isEmpty == false)
            let after = try await client.send(.get, "/api/workspaces/ws-linux-desktop", token: token).decoded(WorkspaceBody.self)
            #expect(after.activeSessions == 0)
            // The list written while the session ran is kept for the role; a count that changed
            // since must not be answered from it.
            let relisted = try await client.send(.get, "/api/workspaces", token: token).decoded([WorkspaceBody].self)
            #expect(relisted.first { $0.id == "ws-linux-desktop" }?.activeSessions == 0)

            let actions = try await harness.store.events(AuditQuery(limit: 10)).map(\.action)
            #expect(actions.contains(.launchWorkspace) && actions.contains(.stopWorkspace))
        }
    }

    @Test func launchRefusalsCarryReasonsAndAreAudited() async throws {
        try await Harness.run { harness, client in
            let admin = try await harness.account(.admin).token
            let user = try await harness.account(.user).token
            #expect(try await client.send(.put, "/api/workspaces/ws-linux-desktop", token: admin, json: #"{"status":"maintenance"}"#).status == .ok)

            let maintenance = try await client.send(.post, "/api/workspaces/ws-linux-desktop/launch", token: user)
            #expect(maintenance.status == .conflict)
            #expect(maintenance.detail?.contains("maintenance") == true)
            let comingSoon = try await client.send(.post, "/api/workspaces/ws-gpu-workstation/launch", token: admin)
            #expect(comingSoon.status == .conflict)
            let notAllowed = try await client.send(.post, "/api/workspaces/ws-windows-rdp/launch", token: user)
            #expect(notAllowed.status == .forbidden)
            #expect(notAllowed.detail?.isEmpty == false)

            let refusals = try await harness.store.events(AuditQuery(action: .launchWorkspace, success: false, limit: 10))
            #expect(refusals.count == 3)
            #expect(refusals.allSatisfy { $0.details["reason"]?.isEmpty == false })
        }
    }

    @Test(arguments: StoreKind.allCases)
    func perUserSessionLimitHoldsUnderConcurrentLaunches(_ store: StoreKind) async throws {
        try await Harness.run(store: store) { harness, client in
            let token = try await harness.account(.admin).token
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<12 {
                    group.addTask {
                        try await client.send(.post, "/api/workspaces/ws-secure-browser/launch", token: token).status
                    }
                }
                return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .created }.count == 3)
            #expect(statuses.filter { $0 == .conflict }.count == 9)
            let active = try await client.send(.get, "/api/sessions/active", token: token).decoded([SessionBody].self)
            #expect(active.count == 3)
        }
    }

    @Test func sessionLimitIsConfigurable() async throws {
        try await Harness.run(.router, { $0.maxSessionsPerUser = 1 }) { harness, client in
            let token = try await harness.account(.neosc).token
            #expect(try await client.send(.post, "/api/workspaces/ws-linux-desktop/launch", token: token).status == .created)
            let second = try await client.send(.post, "/api/workspaces/ws-secure-browser/launch", token: token)
            #expect(second.status == .conflict)
            #expect(second.detail?.contains("limit") == true)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func administratorsManageTheCatalogue(_ store: StoreKind) async throws {
        try await Harness.run(store: store) { harness, client in
            let admin = try await harness.account(.admin).token
            let user = try await harness.account(.user)
            let created = try await client.send(
                .post, "/api/workspaces", token: admin,
                json: body([
                    "id": "ws-kali", "name": "Kali Linux", "type": "linux", "url": "https://kali.example.com/",
                    "allowed_roles": ["user", "user", "neosc"], "max_session_minutes": 30, "launch_mode": "new_tab",
                ]))
            #expect(created.status == .created)
            let workspace = try created.decoded(WorkspaceBody.self)
            #expect(workspace.allowedRoles == ["neosc", "user"])
            #expect(workspace.status == "available")
            #expect(workspace.maxSessionMinutes == 30 && workspace.launchMode == "new_tab")
            let duplicate = try await client.send(
                .post, "/api/workspaces", token: admin, json: body(["id": "ws-kali", "name": "K", "type": "linux", "url": "/k"]))
            #expect(duplicate.status == .conflict)

            let launchReply = try await client.send(.post, "/api/workspaces/ws-kali/launch", token: user.token)
            #expect(launchReply.status == .created)
            let launched = try launchReply.decoded(LaunchBody.self)
            #expect(launched.streamURL == nil, "new_tab workspaces have no embedded stream")

            let updated = try await client.send(
                .put, "/api/workspaces/ws-kali", token: admin, json: #"{"description":"Pen-testing tools","cpu":8}"#)
            #expect(updated.status == .ok)
            let changed = try updated.decoded(WorkspaceBody.self)
            #expect(changed.description == "Pen-testing tools" && changed.cpu == 8)
            #expect(changed.name == "Kali Linux", "fields not sent are kept")
            #expect(try await client.send(.put, "/api/workspaces/ws-kali", token: admin, json: #"{"id":"ws-other"}"#).status == .unprocessableContent)

            let deleted = try await client.send(.delete, "/api/workspaces/ws-kali", token: admin)
            #expect(deleted.status == .ok)
            #expect(try await client.send(.get, "/api/workspaces/ws-kali", token: admin).status == .notFound)
            let session = try await client.send(.get, "/api/sessions/\(launched.sessionID)", token: user.token).decoded(SessionBody.self)
            #expect(session.status == "terminated")
            #expect(session.endReason == "workspace_deleted")
            #expect(session.workspaceName == "Kali Linux", "history keeps the name")

            #expect(try await client.send(.delete, "/api/workspaces/ws-windows-rdp", token: admin).status == .ok)
            let reset = try await client.send(.post, "/api/workspaces/reset", token: admin)
            #expect(reset.status == .ok)
            #expect(try reset.decoded(ResetBody.self).workspaces == 6)
            let ids = try await client.send(.get, "/api/workspaces", token: admin).decoded([WorkspaceBody].self).map(\.id)
            #expect(ids == DefaultCatalogue.workspaces(at: Date()).map(\.id))

            let actions = Set(try await harness.store.events(AuditQuery(limit: 50)).map(\.action))
            #expect(actions.isSuperset(of: [.createWorkspace, .updateWorkspace, .deleteWorkspace, .resetWorkspaces]))
        }
    }

    /// A workspace's body names only keys it has (a misspelt `allowed_role` would have left the
    /// default roles in place), an id is not a word the API's collection uses for an action, and
    /// asking for what already holds writes and audits nothing.
    @Test func workspaceBodiesAreReadStrictly() async throws {
        try await Harness.run { harness, client in
            let admin = try await harness.account(.admin).token
            let recorded = try await harness.store.events(AuditQuery(limit: 1_000)).count
            let misspelt = try await client.send(
                .post, "/api/workspaces", token: admin,
                json: body(["id": "ws-kali", "name": "Kali", "type": "linux", "url": "/kali", "allowed_role": ["admin"]]))
            #expect(misspelt.status == .unprocessableContent, "\(misspelt.text)")
            #expect(misspelt.detail == "Field 'allowed_role' is not one this request takes")
            let misspeltChange = try await client.send(
                .put, "/api/workspaces/ws-linux-desktop", token: admin, json: #"{"allowed_role":["admin"]}"#)
            #expect(misspeltChange.status == .unprocessableContent, "\(misspeltChange.text)")
            // `POST /api/workspaces/reset` is the catalogue's; `POST /api/policies/evaluate` the policies'.
            let reserved = try await client.send(
                .post, "/api/workspaces", token: admin, json: body(["id": "reset", "name": "R", "type": "linux", "url": "/r"]))
            #expect(reserved.status == .unprocessableContent && reserved.detail?.contains("'reset'") == true, "\(reserved.text)")
            let reservedPolicy = try await client.send(
                .post, "/api/policies", token: admin,
                json: body(["id": "evaluate", "name": "E", "kind": "address_allowlist", "settings": ["cidrs": ["192.0.2.0/24"]]]))
            #expect(reservedPolicy.status == .unprocessableContent && reservedPolicy.detail?.contains("'evaluate'") == true)
            #expect(try await harness.store.workspace(id: "reset") == nil)
            #expect(try await harness.store.policy(id: "evaluate") == nil)
            #expect(try await harness.store.events(AuditQuery(limit: 1_000)).count == recorded)

            // Every key a workspace has is taken.
            let full = try await client.send(
                .post, "/api/workspaces", token: admin,
                json: body([
                    "id": "ws-full", "name": "Full", "type": "linux", "description": "d", "image_url": "https://img.example/x.png",
                    "status": "available", "cpu": 2, "memory": 4, "storage": 20, "url": "/full", "connection_type": "https",
                    "launch_mode": "iframe", "clientless": true, "requires_netbird": false, "allowed_roles": ["admin"],
                    "max_session_minutes": 60, "stream_upstream": NSNull(),
                ]))
            #expect(full.status == .created, "\(full.text)")
            let stored = try await harness.store.workspace(id: "ws-full")
            let entries = try await harness.store.events(AuditQuery(limit: 1_000)).count
            for unchanged in ["{}", #"{"name":"Full","cpu":2,"allowed_roles":["admin"]}"#, #"{"id":"ws-full"}"#] {
                let answer = try await client.send(.put, "/api/workspaces/ws-full", token: admin, json: unchanged)
                #expect(answer.status == .ok, "\(unchanged): \(answer.text)")
            }
            // A workspace as read, sent back: its read-only keys are taken and ignored.
            let read = try await client.send(.get, "/api/workspaces/ws-full", token: admin)
            let roundTrip = try await client.send(.put, "/api/workspaces/ws-full", token: admin, json: read.text)
            #expect(roundTrip.status == .ok, "\(roundTrip.text)")
            #expect(try await harness.store.workspace(id: "ws-full") == stored, "not even its time of change")
            #expect(try await harness.store.events(AuditQuery(limit: 1_000)).count == entries)
        }
    }

    /// A workspace's `stream_upstream` (issue #17): stored normalised when the operator's
    /// allowlist (NEOSC_STREAM_UPSTREAMS) permits it, refused (422) when it does not, removed by null.
    @Test(arguments: StoreKind.allCases)
    func streamUpstreamsAreThoseTheOperatorAllows(_ store: StoreKind) async throws {
        let allowlist = StreamUpstreamAllowlist(
            ranges: [AddressRange("10.0.0.0/8")!, AddressRange("127.0.0.0/8")!], hosts: ["kasm.lab.example"])
        try await Harness.run(store: store, { $0.streamUpstreams = allowlist }) { harness, client in
            #expect(harness.portal.streamUpstreams == allowlist)
            let admin = try await harness.account(.admin).token
            let created = try await client.send(
                .post, "/api/workspaces", token: admin,
                json: body(["id": "ws-vnc", "name": "Lab desktop", "type": "linux", "url": "/lab", "stream_upstream": "VNC://10.1.2.3"]))
            #expect(created.status == .created)
            #expect(try created.decoded(WorkspaceBody.self).streamUpstream == "vnc://10.1.2.3:5900", "stored normalised")
            let shown = try await client.send(.get, "/api/workspaces/ws-vnc", token: admin).decoded(WorkspaceBody.self)
            #expect(shown.streamUpstream == "vnc://10.1.2.3:5900")
            let listed = try await client.send(.get, "/api/workspaces", token: admin)
            let entries = try #require(listed.json as? [[String: Any]])
            #expect(entries.first { $0["id"] as? String == "ws-vnc" }?["stream_upstream"] as? String == "vnc://10.1.2.3:5900")
            #expect(
                entries.filter { $0["id"] as? String != "ws-vnc" }.allSatisfy { $0["stream_upstream"] is NSNull },
                "a workspace without one shows null, not nothing")

            let refused = try await client.send(
                .post, "/api/workspaces", token: admin,
                json: body(["name": "Elsewhere", "type": "linux", "url": "/x", "stream_upstream": "vnc://192.0.2.1:5901"]))
            #expect(refused.status == .unprocessableContent)
            #expect(
                refused.detail
                    == "stream_upstream: 192.0.2.1 is not among the upstreams this server may connect to (NEOSC_STREAM_UPSTREAMS)")
            // `localhost` resolves into 127.0.0.0/8, which is listed, but a name is never matched by what it resolves to.
            for unlisted in ["vnc://localhost", "wss://other.lab.example/ws"] {
                let reply = try await client.send(.put, "/api/workspaces/ws-vnc", token: admin, json: body(["stream_upstream": unlisted]))
                #expect(reply.status == .unprocessableContent && reply.detail?.contains("is not among the upstreams") == true, "\(unlisted)")
            }
            for malformed in ["http://10.1.2.3", "vnc://10.1.2.3:5901/path", "ws://user@kasm.lab.example/", "vnc://10.1.2.3:0", 5] as [Any] {
                let reply = try await client.send(.put, "/api/workspaces/ws-vnc", token: admin, json: body(["stream_upstream": malformed]))
                #expect(reply.status == .unprocessableContent, "\(malformed)")
            }
            #expect(try await harness.store.workspace(id: "ws-vnc")?.streamUpstream == "vnc://10.1.2.3:5900", "refusals change nothing")

            let renamed = try await client.send(.put, "/api/workspaces/ws-vnc", token: admin, json: #"{"name":"Lab"}"#)
            #expect(try renamed.decoded(WorkspaceBody.self).streamUpstream == "vnc://10.1.2.3:5900", "not sent: kept")
            let moved = try await client.send(
                .put, "/api/workspaces/ws-vnc", token: admin, json: #"{"stream_upstream":"wss://KASM.lab.example/websockify"}"#)
            #expect(moved.status == .ok)
            #expect(try moved.decoded(WorkspaceBody.self).streamUpstream == "wss://kasm.lab.example:443/websockify")
            let cleared = try await client.send(.put, "/api/workspaces/ws-vnc", token: admin, json: #"{"stream_upstream":null}"#)
            #expect(cleared.status == .ok)
            #expect(cleared["stream_upstream"] is NSNull)
            #expect(try await harness.store.workspace(id: "ws-vnc")?.streamUpstream == nil)
            let fields = try await harness.store.events(AuditQuery(action: .updateWorkspace, limit: 10)).compactMap { $0.details["fields"] }
            #expect(fields.filter { $0 == "stream_upstream" }.count == 2, "moved and cleared, each audited by name")

            // A user launching it sees the workspace as stored.
            let user = try await harness.account(.neosc).token
            let launched = try await client.send(.post, "/api/workspaces/ws-vnc/launch", token: user)
            #expect(launched.status == .created)
            #expect(try launched.decoded(LaunchBody.self).workspace.streamUpstream == nil)
        }
    }

    @Test func withoutUpstreamsStreamingIsOff() async throws {
        try await Harness.run { harness, client in
            #expect(harness.portal.streamUpstreams.isEmpty)
            let admin = try await harness.account(.admin).token
            let refused = try await client.send(
                .post, "/api/workspaces", token: admin,
                json: body(["name": "Lab", "type": "linux", "url": "/lab", "stream_upstream": "vnc://10.1.2.3"]))
            #expect(refused.status == .unprocessableContent)
            #expect(refused.detail?.hasPrefix("stream_upstream: streaming is off") == true)
            #expect(refused.detail?.hasSuffix("set NEOSC_STREAM_UPSTREAMS to allow it") == true)
            // Null or empty is no stream, which needs no allowlist.
            for none in [#""stream_upstream":null"#, #""stream_upstream":"""#] {
                let created = try await client.send(
                    .post, "/api/workspaces", token: admin, json: #"{"name":"Lab","type":"linux","url":"/lab","# + none + "}")
                #expect(created.status == .created)
                #expect(created["stream_upstream"] is NSNull)
            }
        }
    }
}

@Suite struct SessionTests {
    @Test func ownSessionsOnlyUnlessAdmin() async throws {
        try await Harness.run { harness, client in
            let admin = try await harness.account(.admin).token
            let alice = try await harness.account(.neosc).token
            let bob = try await harness.account(.neosc).token
            let aliceSession = try await client.send(.post, "/api/workspaces/ws-linux-desktop/launch", token: alice)
                .decoded(LaunchBody.self).sessionID
            _ = try await client.send(.post, "/api/workspaces/ws-linux-desktop/launch", token: bob)

            let alicesSessions = try await client.send(.get, "/api/sessions", token: alice)
            #expect(try alicesSessions.decoded([SessionBody].self).map(\.id) == [aliceSession])
            let everySession = try await client.send(.get, "/api/sessions", token: admin)
            #expect(try everySession.decoded([SessionBody].self).count == 2)
            #expect(try await client.send(.get, "/api/sessions/\(aliceSession)", token: alice).status == .ok)
            #expect(try await client.send(.get, "/api/sessions/\(aliceSession)", token: bob).status == .notFound)
            #expect(try await client.send(.post, "/api/sessions/\(aliceSession)/disconnect", token: bob).status == .notFound)

            let disconnected = try await client.send(.post, "/api/sessions/\(aliceSession)/disconnect", token: alice)
            #expect(disconnected.status == .ok)
            #expect(try disconnected.decoded(SessionBody.self).status == "disconnected")
            let twice = try await client.send(.post, "/api/sessions/\(aliceSession)/disconnect", token: alice)
            #expect(twice.status == .conflict)
            let stillActive = try await client.send(.get, "/api/sessions/active", token: alice)
            #expect(try stillActive.decoded([SessionBody].self).isEmpty, "no active session is an empty list, not an error")
            let disconnectedList = try await client.send(.get, "/api/sessions?status=disconnected", token: alice)
            #expect(try disconnectedList.decoded([SessionBody].self).map(\.status) == ["disconnected"])

            // An administrator may end anyone's session.
            let bobSession = try #require(try await client.send(.get, "/api/sessions/active", token: bob).decoded([SessionBody].self).first?.id)
            #expect(try await client.send(.post, "/api/sessions/\(bobSession)/disconnect", token: admin).status == .ok)
            let audit = try await harness.store.events(AuditQuery(action: .disconnectSession, limit: 10))
            #expect(audit.count == 2)
        }
    }
}
