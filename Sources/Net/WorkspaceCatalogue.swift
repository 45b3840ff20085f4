import Actors
import Domain
import Foundation
import Hummingbird
import NIOCore

/// The workspace catalogue as the list route serves it: read from the store once, each workspace
/// encoded to JSON once, until a write invalidates it. A list response is then the visible
/// workspaces' bytes with their live `active_sessions` appended: no store read, no encoding.
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
    struct Listing: Sendable {
        let entries: [Entry]
        let workspaces: [Workspace]
    }

    let cache: RefreshingCache<Listing>

    func entries(from store: any WorkspaceStore) async throws -> [Entry] {
        try await listing(from: store).entries
    }

    func workspaces(from store: any WorkspaceStore) async throws -> [Workspace] {
        try await listing(from: store).workspaces
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
    static func response(_ entries: [Entry], counts: [String: Int], where include: (Entry) -> Bool) -> Response {
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
        return Response(
            status: .ok,
            headers: [.contentType: "application/json; charset=utf-8", .contentLength: String(buffer.readableBytes)],
            body: .init(byteBuffer: buffer))
    }
}
