import Actors
import Domain
import Foundation
import Hummingbird
import NIOCore

/// The workspace catalogue as the list route serves it: read from the store once, each workspace
/// encoded to JSON once, until a write invalidates it. A list response is then the visible
/// workspaces' bytes with their live `active_sessions` appended: no store read, no encoding.
struct WorkspaceCatalogue: Sendable {
    struct Entry: Sendable {
        var workspace: Workspace
        /// The workspace's JSON object without its closing brace.
        var openJSON: [UInt8]
    }

    let cache: RefreshingCache<[Entry]>

    func entries(from store: any WorkspaceStore) async throws -> [Entry] {
        try await cache.value {
            try await store.workspaces().map { workspace in
                var json = Array(try PortalJSON.encoder.encode(workspace))
                json.removeLast()  // "}"
                return Entry(workspace: workspace, openJSON: json)
            }
        }
    }

    func invalidate() async {
        await cache.invalidate()
    }

    /// A JSON array of `entries`, each with `"active_sessions": n` from `counts`.
    static func response(_ entries: [Entry], counts: [String: Int]) -> Response {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(entries.reduce(2) { $0 + $1.openJSON.count + 24 })
        buffer.writeInteger(UInt8(ascii: "["))
        for (index, entry) in entries.enumerated() {
            if index > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
            buffer.writeBytes(entry.openJSON)
            buffer.writeString(#","active_sessions":\#(counts[entry.workspace.id] ?? 0)}"#)
        }
        buffer.writeInteger(UInt8(ascii: "]"))
        return Response(
            status: .ok,
            headers: [.contentType: "application/json; charset=utf-8", .contentLength: String(buffer.readableBytes)],
            body: .init(byteBuffer: buffer))
    }
}
