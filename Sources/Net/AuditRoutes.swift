import Actors
import Domain
import Foundation
import Hummingbird
import Services

/// `/api/audit-logs`: the trail, newest first, as pages or as one download (administrators read
/// all; others only their own); its verification (administrators) and the public key that checks
/// its signed checkpoints (anyone).
struct AuditRoutes {
    let store: any AuditStore
    let audit: AuditTrail
    let integrity: AuditIntegrity
    /// Sealed entries' JSON, kept for the list (`AuditListWriter`).
    let encodedEntries = UnchangingValues<String, [UInt8]>(capacity: AuditListWriter.keptEntries)
    let newestPages = NewestPages()

    func register<Open: RequestContext>(open: RouterGroup<Open>, signedIn group: RouterGroup<SignedInContext>) {
        open.get("public-key") { _, _ in PublicKey(integrity: integrity) }
        group.get(use: list)
        group.get("export", use: export)
        // HEADs of their own: Hummingbird's would answer a GET's with its body dropped, which for
        // the export says `Content-Length: 0`, and for the verification walks the whole trail
        // and audits a verification whose result nobody sees.
        group.head("export", use: export)
        group.get("verify", use: verify)
        group.head("verify", use: verifyHead)
    }

    struct PublicKey: ResponseEncodable {
        var algorithm = "Ed25519"
        /// Base64 of the raw 32-byte key.
        var publicKey: String
        var keyID: String
        /// Every key whose checkpoints this server accepts, base64.
        var trustedKeys: [String]

        init(integrity: AuditIntegrity) {
            publicKey = Data(integrity.publicKey).base64EncodedString()
            keyID = AuditSigningKey.keyID(integrity.publicKey)
            trustedKeys = integrity.trustedKeys.map { Data($0).base64EncodedString() }
        }
    }

    /// Walks the chain and its checkpoints (administrators); 200 with `ok` true or false.
    @Sendable func verify(_ request: Request, context: SignedInContext) async throws -> AuditVerification {
        try await audit.requireAdmin(context.principal, to: "verify the audit trail", in: context)
        let expected = try Self.expectedEntry(request)
        guard let report = try await integrity.verifyAlone(expected: expected) else { throw Self.alreadyVerifying }
        let verification = AuditVerification(report)
        var details = ["ok": verification.ok ? "true" : "false", "entries": String(verification.entries)]
        if let brokenAt = verification.brokenAt { details["broken_at"] = String(brokenAt) }
        try await audit.record(.auditVerified, by: .principal(context.principal), in: context, details: details)
        return verification
    }

    /// What a GET of the verification would answer, bar its body: who may ask and what is asked
    /// are checked; nothing is verified or audited.
    @Sendable func verifyHead(_ request: Request, context: SignedInContext) async throws -> Response {
        try await audit.requireAdmin(context.principal, to: "verify the audit trail", in: context)
        _ = try Self.expectedEntry(request)
        if await integrity.isVerifying { throw Self.alreadyVerifying }
        return Response.headOnly(headers: [.contentType: "application/json; charset=utf-8"])
    }

    private static let alreadyVerifying = DomainError.conflict("A verification of the audit trail is already running")

    /// The entry a verification is asked to find (`?expect=<seq>:<hash>`); present but empty is
    /// malformed too, not absent.
    private static func expectedEntry(_ request: Request) throws -> (seq: Int64, hash: [UInt8])? {
        guard let text = try request.queryValue("expect") else { return nil }
        guard let entry = AuditIntegrity.expectedEntry(text) else {
            throw DomainError.invalid("Query parameter 'expect' must be <seq>:<hash>, the hash in 64 hex digits")
        }
        return entry
    }

    /// The filters every reading of the trail takes; a non-administrator's are narrowed to their own entries.
    private func query(_ request: Request, _ context: SignedInContext, limit: Int) throws -> AuditQuery {
        Self.narrowed(
            AuditQuery(
                action: try request.queryText("action").map { text throws(DomainError) in
                    guard AuditAction.isWellFormed(text) else {
                        throw .invalid("Query parameter 'action' must be lower-case letters and underscores, such as launch_workspace")
                    }
                    return AuditAction(text)
                },
                userID: try request.queryID("user_id"),
                success: try request.queryBool("success"),
                since: try request.queryDate("since"),
                until: try request.queryDate("until"),
                before: try request.queryID("before"),
                limit: limit),
            for: context.principal)
    }

    /// Who reads what: administrators the whole trail (or one user's, as asked), anyone else only
    /// their own entries, whatever they asked. The API and the portal's audit page both apply it.
    static func narrowed(_ query: AuditQuery, for principal: Principal) -> AuditQuery {
        var query = query
        if !principal.isAdmin { query.userID = principal.userID }
        return query
    }

    /// Written by `AuditEventWriter`, not the generic encoder (the same JSON, several times
    /// faster), each sealed entry once (`AuditListWriter`).
    @Sendable func list(_ request: Request, context: SignedInContext) async throws -> WrittenJSON {
        let selection = try query(request, context, limit: try request.queryLimit(maximum: AuditQuery.maximumLimit))
        return WrittenJSON(buffer: try await AuditListWriter(store: store, kept: encodedEntries, newest: newestPages).list(selection))
    }

    /// `?format=csv|jsonl` with the list's filters: every matching entry, newest first, streamed a
    /// page at a time (memory stays one page whatever the size). Audited `audit_exported`.
    @Sendable func export(_ request: Request, context: SignedInContext) async throws -> Response {
        let format = try AuditExportFormat(try request.queryValue("format"))
        return try await Self.export(
            try query(request, context, limit: 1_000), as: format, by: context.principal, in: context, store: store, audit: audit,
            headOnly: request.method == .head)
    }

    /// Every entry `selection` (already narrowed) matches, as one download; audited `audit_exported`.
    /// A `HEAD` gets the download's headers only (its length is not known: it is streamed):
    /// nothing is read, so nothing is exported or audited.
    static func export(
        _ selection: AuditQuery, as format: AuditExportFormat, by principal: Principal, in context: some PortalContext,
        store: any AuditStore, audit: AuditTrail, headOnly: Bool = false
    ) async throws -> Response {
        let stamp = Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: false))
            .replacingOccurrences(of: ":", with: "")
        var headers: HTTPFields = [.contentType: format.contentType]
        headers[.contentDisposition] = "attachment; filename=\"neosc-audit-\(stamp).\(format.rawValue)\""
        if headOnly { return Response.headOnly(headers: headers) }
        try await audit.record(
            .auditExported, by: .principal(principal), in: context, details: Self.describe(selection, format: format))
        var pages = AuditPages(store: store, query: selection).makeAsyncIterator()
        // The first page is read before the answer starts, so a store that cannot read still
        // gets its 503 rather than a cut download.
        let first = try await pages.next()
        let remaining = pages
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                var pages = remaining
                var buffer = ByteBuffer(string: format.preamble)
                var page = first
                while let events = page {
                    try format.encode(events, into: &buffer)
                    try await writer.write(buffer)
                    buffer.clear()
                    page = try await pages.next()
                }
                if buffer.readableBytes > 0 { try await writer.write(buffer) }
                try await writer.finish(nil)
            })
    }

    /// The filters of an export, for its audit entry.
    static func describe(_ query: AuditQuery, format: AuditExportFormat) -> [String: String] {
        var details = ["format": format.rawValue]
        if let action = query.action { details["action"] = action.rawValue }
        if let userID = query.userID { details["user_id"] = userID }
        if let success = query.success { details["success"] = success ? "true" : "false" }
        if let since = query.since { details["since"] = since.formatted(.iso8601) }
        if let until = query.until { details["until"] = until.formatted(.iso8601) }
        if let before = query.before { details["before"] = before }
        return details
    }
}
