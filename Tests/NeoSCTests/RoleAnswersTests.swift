import Domain
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@testable import Net

/// `RoleAnswers` (issue #16): a role's workspace list is written once per change of the catalogue
/// or of a count, and never answered from a write that either has since changed.
@Suite struct RoleAnswersTests {
    static func listing(_ names: [String]) -> WorkspaceCatalogue.Listing {
        let entries = names.map { name in
            WorkspaceCatalogue.Entry(workspace: DefaultCatalogue.workspaces(at: Date())[0], openJSON: Array("{\"name\":\"\(name)\"".utf8))
        }
        return WorkspaceCatalogue.Listing(entries: entries, workspaces: entries.map(\.workspace))
    }

    @Test func writtenOncePerCatalogueAndCounts() {
        let answers = RoleAnswers()
        var writes = 0
        func body(_ role: Role, _ listing: WorkspaceCatalogue.Listing, _ counts: [String: Int]) -> String {
            String(
                buffer: answers.body(for: role, listing: listing, counts: counts) {
                    writes += 1
                    return WorkspaceCatalogue.body(listing.entries, counts: counts) { _ in true }
                })
        }
        let first = Self.listing(["a"])
        let id = first.entries[0].workspace.id
        #expect(body(.neosc, first, [:]) == #"[{"name":"a","active_sessions":0}]"#)
        #expect(body(.neosc, first, [:]) == #"[{"name":"a","active_sessions":0}]"#)
        #expect(writes == 1, "the same catalogue and counts: the kept body")
        #expect(body(.neosc, first, [id: 2]) == #"[{"name":"a","active_sessions":2}]"#)
        #expect(writes == 2, "a count changed")
        #expect(body(.user, first, [id: 2]) == #"[{"name":"a","active_sessions":2}]"#)
        #expect(writes == 3, "each role has its own")
        // An equal catalogue loaded again is another load: written anew (a load is what changes
        // when an administrator edits a workspace).
        let second = Self.listing(["b"])
        #expect(body(.neosc, second, [id: 2]) == #"[{"name":"b","active_sessions":2}]"#)
        #expect(writes == 4)
        #expect(body(.neosc, second, [id: 2]) == #"[{"name":"b","active_sessions":2}]"#)
        #expect(writes == 4)
    }

    /// A launch answers with the workspace as the store has it: the catalogue's encoding only when
    /// the catalogue holds that very workspace (a change behind its back, as another replica
    /// makes, is not answered from it).
    @Test func aLaunchShowsTheWorkspaceLaunched() async throws {
        try await Harness.run { harness, client in
            let token = try await harness.account(.neosc).token
            func launched() async throws -> String {
                let reply = try await client.send(.post, "/api/workspaces/ws-linux-desktop/launch", token: token)
                #expect(reply.status == .created)
                #expect(try await client.send(.post, "/api/workspaces/ws-linux-desktop/stop", token: token).status == .ok)
                return try reply.decoded(LaunchAnswer.self).workspace.name
            }
            #expect(try await launched() == "Linux Desktop")
            var changed = try #require(try await harness.store.workspace(id: "ws-linux-desktop"))
            changed.name = "Changed elsewhere"
            try await harness.store.update(changed)
            #expect(try await launched() == "Changed elsewhere")
        }
    }

    struct LaunchAnswer: Decodable {
        let workspace: WorkspaceBody
    }

    /// Through the API: a list kept for the role, then an administrator's edit, then the list.
    @Test func anEditIsListedAtOnce() async throws {
        try await Harness.run { harness, client in
            let admin = try await harness.account(.admin).token
            func name(of id: String) async throws -> String? {
                try await client.send(.get, "/api/workspaces", token: admin).decoded([WorkspaceBody].self).first { $0.id == id }?.name
            }
            #expect(try await name(of: "ws-linux-desktop") == "Linux Desktop")
            #expect(try await name(of: "ws-linux-desktop") == "Linux Desktop")
            let edited = try await client.send(.put, "/api/workspaces/ws-linux-desktop", token: admin, json: body(["name": "Renamed"]))
            #expect(edited.status == .ok)
            #expect(try await name(of: "ws-linux-desktop") == "Renamed")

            // The dashboard's figures count the catalogue once per load of it, per role: an edit
            // shows in them at once too.
            func figures(_ token: String) async throws -> StatsBody {
                try await client.send(.get, "/api/stats", token: token).decoded(StatsBody.self)
            }
            let member = try await harness.account(.user).token
            #expect(try await figures(admin).availableWorkspaces == 5)
            #expect(try await figures(member).totalWorkspaces == 2)
            let retired = try await client.send(
                .put, "/api/workspaces/ws-linux-desktop", token: admin, json: body(["status": "maintenance", "allowed_roles": ["admin"]]))
            #expect(retired.status == .ok, "\(retired.text)")
            #expect(try await figures(admin).availableWorkspaces == 4)
            #expect(try await figures(member).totalWorkspaces == 1)
        }
    }
}
