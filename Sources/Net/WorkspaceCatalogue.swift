import Actors
import Domain
import Foundation
import Hummingbird
import NIOCore
import Services
import Synchronization

/// The workspace catalogue as the list route serves it: read from the store once, each workspace
/// encoded to JSON once, until a write invalidates it. A list response is then the visible
/// workspaces' bytes with their live `active_sessions` appended: no store read, no encoding; and
/// while neither the catalogue nor a count changes, a role's list is the bytes last written for it.
struct WorkspaceCatalogue: Sendable {
    /// A class, so that picking a caller's entries out of the catalogue copies references, not
    /// workspaces (their copies were a tenth of a list request's time, issue #16).
    final class Entry: Sendable {
        let workspace: Workspace
        /// The workspace's JSON object without its closing brace.
        let openJSON: [UInt8]

        init(workspace: Workspace, openJSON: [UInt8]) {
            self.workspace = workspace
            self.openJSON = openJSON
        }
    }

    /// The entries, and the workspaces as one array for callers that want them all (the
    /// dashboard's figures, the pages), so that none of them copies the catalogue per request.
    /// A class: one load of the catalogue is one instance, which is how a kept list answer knows
    /// that it was written from the catalogue still served.
    final class Listing: Sendable {
        let entries: [Entry]
        let workspaces: [Workspace]
        /// Each role's tally, for the dashboard's figures.
        let tallies: [Role: Statistics.WorkspaceTally]
        let byID: [String: Entry]

        init(entries: [Entry], workspaces: [Workspace]) {
            self.entries = entries
            self.workspaces = workspaces
            tallies = Statistics.WorkspaceTally.byRole(workspaces)
            byID = Dictionary(entries.map { ($0.workspace.id, $0) }, uniquingKeysWith: { first, _ in first })
        }
    }

    let cache: RefreshingCache<Listing>
    let answers = RoleAnswers()

    init(cache: RefreshingCache<Listing>) {
        self.cache = cache
    }

    /// The list `role` sees, with each workspace's count from `counts`: the body kept for `role`
    /// when it was written from this catalogue and these counts, else written anew and kept.
    /// (Composing a list of 200 workspaces, 64 KB, was a quarter of a list request's time.)
    func answer(for role: Role, from store: any WorkspaceStore, counts: [String: Int]) async throws -> Response {
        let listing = try await listing(from: store)
        let body = answers.body(for: role, listing: listing, counts: counts) {
            Self.body(listing.entries, counts: counts) { $0.workspace.isVisible(to: role) }
        }
        return Self.response(body)
    }

    /// The list of the `entries` that `include` keeps, written anew (a demo user's list, which
    /// depends on its demo).
    func answer(from store: any WorkspaceStore, counts: [String: Int], where include: (Entry) -> Bool) async throws -> Response {
        Self.response(Self.body(try await listing(from: store).entries, counts: counts, where: include))
    }

    func workspaces(from store: any WorkspaceStore) async throws -> [Workspace] {
        try await listing(from: store).workspaces
    }

    /// `workspace` as JSON, as `PortalJSON.encoder` writes it, when the catalogue holds this very
    /// workspace (equal in every field); nil otherwise, for the caller to encode it. (The encoder
    /// was a tenth of a launch's own work; a launch reads its workspace from the store, which the
    /// catalogue may be a moment behind, hence the comparison.) Never throws: a launch that has
    /// committed must not answer with an error because the catalogue could not be read.
    func json(of workspace: Workspace, from store: any WorkspaceStore) async -> [UInt8]? {
        guard let entry = try? await listing(from: store).byID[workspace.id], entry.workspace == workspace else { return nil }
        return entry.openJSON + [UInt8(ascii: "}")]
    }

    func tally(for role: Role, from store: any WorkspaceStore) async throws -> Statistics.WorkspaceTally {
        try await listing(from: store).tallies[role] ?? Statistics.WorkspaceTally()
    }

    private func listing(from store: any WorkspaceStore) async throws -> Listing {
        try await cache.value {
            let workspaces = try await store.workspaces()
            let entries = try workspaces.map { workspace in
                var json = Array(try PortalJSON.encoder.encode(workspace))
                json.removeLast()  // "}"
                return Entry(workspace: workspace, openJSON: json)
            }
            return Listing(entries: entries, workspaces: workspaces)
        }
    }

    func invalidate() async {
        await cache.invalidate()
    }

    /// A JSON array of the `entries` that `include` keeps, each with `"active_sessions": n` from
    /// `counts`.
    static func body(_ entries: [Entry], counts: [String: Int], where include: (Entry) -> Bool) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(entries.reduce(2) { $0 + $1.openJSON.count + 24 })
        buffer.writeInteger(UInt8(ascii: "["))
        var first = true
        for entry in entries where include(entry) {
            if !first { buffer.writeInteger(UInt8(ascii: ",")) }
            first = false
            buffer.writeBytes(entry.openJSON)
            buffer.writeStaticString(#","active_sessions":"#)
            buffer.writeString(String(counts[entry.workspace.id] ?? 0))
            buffer.writeInteger(UInt8(ascii: "}"))
        }
        buffer.writeInteger(UInt8(ascii: "]"))
        return buffer
    }

    private static func response(_ body: ByteBuffer) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "application/json; charset=utf-8", .contentLength: String(body.readableBytes)],
            body: .init(byteBuffer: body))
    }
}

/// The list answer last written for each role, with what it was written from: the catalogue's
/// load and the active-session counts. Kept while both are the ones a request finds (the same
/// load, equal counts), so that a role's list is written once per change, not once per request.
/// A `ByteBuffer` is shared, not copied, by every response that carries it.
final class RoleAnswers: Sendable {
    private struct Kept {
        let listing: WorkspaceCatalogue.Listing
        let counts: [String: Int]
        let body: ByteBuffer
    }

    private let kept = Mutex<[Role: Kept]>([:])

    /// The body for `role` from `listing` and `counts`: kept, or `write`'s, which is then kept.
    func body(for role: Role, listing: WorkspaceCatalogue.Listing, counts: [String: Int], write: () -> ByteBuffer) -> ByteBuffer {
        if let kept = kept.withLock({ $0[role] }), kept.listing === listing, kept.counts == counts {
            return kept.body
        }
        let body = write()
        kept.withLock { $0[role] = Kept(listing: listing, counts: counts, body: body) }
        return body
    }
}
