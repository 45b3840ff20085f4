import Domain
import Foundation
import HTTPTypes
import Hummingbird
import Services
import _NIOFileSystem

/// `/api/recordings`: recordings of streamed sessions, for administrators: list, download (the
/// gzip file as written: timestamped records of what the desktop sent; docs/streaming.md), delete.
/// The rules and audit are `Services.Recordings`'; a refusal is audited `access_denied` here, as
/// on every administrators' route.
struct RecordingRoutes {
    let recordings: Recordings
    let audit: AuditTrail

    func register(on group: RouterGroup<SignedInContext>) {
        group.get(use: list)
        group.get(":id", use: download)
        group.head(":id", use: download)  // not Hummingbird's, whose answer would say `Content-Length: 0`
        group.delete(":id", use: delete)
    }

    @Sendable func list(_ request: Request, context: SignedInContext) async throws -> JSONBody<[Recording]> {
        try await audit.requireAdmin(context.principal, to: "read recordings", in: context)
        return JSONBody(try await recordings.list(by: context.principal))
    }

    /// A `HEAD` gets the download's headers only, its length the file's now, and is not audited
    /// as a download (a refusal is audited as any other).
    @Sendable func download(_ request: Request, context: SignedInContext) async throws -> Response {
        let id = try context.parameters.require("id")
        try await audit.requireAdmin(context.principal, to: "download recordings", in: context)
        guard request.method != .head else {
            let (recording, path) = try await recordings.available(id, by: context.principal)
            var headers = Self.headers(recording)
            // The file's size now, as a GET now would send it (a recording still being made grows).
            if let size = try await FileSystem.shared.info(forFileAt: FilePath(path))?.size {
                headers[.contentLength] = String(size)
            }
            return Response.headOnly(headers: headers)
        }
        let (recording, path) = try await recordings.download(id, by: context.principal, from: context.clientAddress)
        let body = try await FileIO().loadFile(path: path, context: context)
        return Response(status: .ok, headers: Self.headers(recording), body: body)
    }

    private static func headers(_ recording: Recording) -> HTTPFields {
        [
            .contentType: "application/gzip", .contentDisposition: "attachment; filename=\"\(recording.id).rec.gz\"",
            .cacheControl: "no-store",
        ]
    }

    @Sendable func delete(_ request: Request, context: SignedInContext) async throws -> Response {
        try await audit.requireAdmin(context.principal, to: "delete recordings", in: context)
        try await recordings.delete(try context.parameters.require("id"), by: context.principal, from: context.clientAddress)
        return Response(status: .noContent)
    }
}
