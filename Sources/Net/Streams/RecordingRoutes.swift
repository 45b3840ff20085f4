import Domain
import Foundation
import HTTPTypes
import Hummingbird
import Services

/// `/api/recordings`: recordings of streamed sessions, for administrators: list, download (the
/// gzip file as written: timestamped records of what the desktop sent; docs/streaming.md), delete.
/// The rules and audit are `Services.Recordings`'.
struct RecordingRoutes {
    let recordings: Recordings

    func register(on group: RouterGroup<SignedInContext>) {
        group.get(use: list)
        group.get(":id", use: download)
        group.delete(":id", use: delete)
    }

    @Sendable func list(_ request: Request, context: SignedInContext) async throws -> JSONBody<[Recording]> {
        JSONBody(try await recordings.list(by: context.principal))
    }

    @Sendable func download(_ request: Request, context: SignedInContext) async throws -> Response {
        let (recording, path) = try await recordings.download(
            try context.parameters.require("id"), by: context.principal, from: context.clientAddress)
        let body = try await FileIO().loadFile(path: path, context: context)
        return Response(
            status: .ok,
            headers: [
                .contentType: "application/gzip", .contentDisposition: "attachment; filename=\"\(recording.id).rec.gz\"",
                .cacheControl: "no-store",
            ],
            body: body)
    }

    @Sendable func delete(_ request: Request, context: SignedInContext) async throws -> Response {
        try await recordings.delete(try context.parameters.require("id"), by: context.principal, from: context.clientAddress)
        return Response(status: .noContent)
    }
}
