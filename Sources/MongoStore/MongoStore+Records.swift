import Domain
import Foundation

extension MongoStore: TokenStore {
    public func insert(_ token: AccessToken) async throws {
        try await database.insert(
            "tokens",
            [
                "_id": .string(token.digest), "digest": .string(token.digest), "user_id": .string(token.userID),
                "issued_at": .date(token.issuedAt), "expires_at": .date(token.expiresAt),
                "revoked_at": .optional(token.revokedAt), "mfa_verified": .bool(token.mfaVerified),
                "claims": .array(token.claims.sorted().map { .string($0) }),
            ])
    }

    public func token(digest: String) async throws -> AccessToken? {
        try await database.findOne("tokens", ["_id": .string(digest)]).map(Self.token)
    }

    public func tokens(digests: [String]) async throws -> [AccessToken] {
        try await database.find("tokens", withIDsIn: digests).map(Self.token)
    }

    /// Two queries (tokens, then their accounts), as many as before: a `$lookup` would be one
    /// round trip, not measured yet.
    public func tokensWithHolders(digests: [String]) async throws -> [(token: AccessToken, holder: User?)] {
        let tokens = try await tokens(digests: digests)
        guard !tokens.isEmpty else { return [] }
        let holders = Dictionary(
            try await users(ids: Array(Set(tokens.map(\.userID)))).map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        return tokens.map { ($0, holders[$0.userID]) }
    }

    static func token(_ document: BSONDocument) throws -> AccessToken {
        AccessToken(
            digest: try document.string("digest"), userID: try document.string("user_id"),
            issuedAt: try document.date("issued_at"), expiresAt: try document.date("expires_at"),
            revokedAt: document.optionalDate("revoked_at"), mfaVerified: try document.bool("mfa_verified"),
            // Absent from a token of an earlier version: none.
            claims: Set((document["claims"]?.array ?? []).compactMap(\.string)))
    }

    public func revoke(digest: String, at now: Date) async throws -> Bool {
        try await database.update(
            "tokens", ["_id": .string(digest), "revoked_at": .null], ["$set": .document(["revoked_at": .date(now)])]
        ).matched == 1
    }

    public func revokeAll(userID: String, at now: Date) async throws -> Int {
        try await database.update(
            "tokens",
            ["user_id": .string(userID), "revoked_at": .null, "expires_at": .document(["$gt": .date(now)])],
            ["$set": .document(["revoked_at": .date(now)])], many: true
        ).modified
    }

    public func revokeAll(userID: String, except kept: String, at now: Date) async throws -> Int {
        try await database.update(
            "tokens",
            [
                "user_id": .string(userID), "_id": .document(["$ne": .string(kept)]), "revoked_at": .null,
                "expires_at": .document(["$gt": .date(now)]),
            ],
            ["$set": .document(["revoked_at": .date(now)])], many: true
        ).modified
    }

    public func setExpiry(userID: String, to expiresAt: Date, at now: Date) async throws {
        _ = try await database.update(
            "tokens",
            ["user_id": .string(userID), "revoked_at": .null, "expires_at": .document(["$gt": .date(now)])],
            ["$set": .document(["expires_at": .date(expiresAt)])], many: true)
    }

    public func purgeExpired(before cutoff: Date) async throws -> Int {
        _ = try await database.delete("redeemed_nonces", ["expires_at": .document(["$lt": .date(cutoff)])], many: true)
        _ = try await database.delete("login_unlocks", ["at": .document(["$lt": .date(cutoff)])], many: true)
        _ = try await database.delete("mfa_challenges", ["expires_at": .document(["$lt": .date(cutoff)])], many: true)
        _ = try await database.delete("stream_tickets", ["expires_at": .document(["$lt": .date(cutoff)])], many: true)
        return try await database.delete("tokens", ["expires_at": .document(["$lt": .date(cutoff)])], many: true)
    }
}

extension MongoStore: NonceStore {
    /// The nonce's digest is the document's `_id`: of two inserts, the second meets a duplicate key.
    public func redeem(nonce digest: String, until expiresAt: Date, at now: Date) async throws -> Bool {
        _ = try await database.delete(
            "redeemed_nonces", ["_id": .string(digest), "expires_at": .document(["$lte": .date(now)])])
        // In a transaction a duplicate key would abort it: look first, and run the change again if
        // another one redeems the nonce in between.
        if database.inTransaction, try await database.findOne("redeemed_nonces", ["_id": .string(digest)]) != nil {
            return false
        }
        do {
            try await database.insert("redeemed_nonces", ["_id": .string(digest), "expires_at": .date(expiresAt)])
            return true
        } catch let failure as MongoFailure where failure.isDuplicateKey {
            if database.inTransaction { throw MongoFailure.restart("another sign-in redeemed the nonce at the same time") }
            return false
        }
    }
}

extension MongoStore: AuditStore {
    @discardableResult
    public func append(_ event: AuditEvent) async throws -> AuditEvent {
        if let journal = database.openJournal {
            // A change on a standalone server: the entry goes with its commit (the outbox).
            journal.hold(event)
            return event
        }
        if database.inTransaction, let transaction = MongoTransaction.current {
            // Committed with the change, sealed after it.
            try await chainAppender.stage(event, in: database)
            transaction.stage(event)
            return event
        }
        return try await chainAppender.append(event, to: database)
    }

    public func chain(from seq: Int64, limit: Int) async throws -> [AuditEvent] {
        try await database.find(
            "audit_logs", ["seq": .document(["$gte": .int(max(seq, 1))])], sort: ["seq": .int(1)], limit: limit
        ).map(Self.auditEvent)
    }

    public func chainHead() async throws -> AuditSeal? {
        try await database.find("audit_logs", AuditChainAppender.inChain, sort: ["seq": .int(-1)], limit: 1)
            .first.flatMap { try Self.auditEvent($0).seal }
    }

    public func insert(_ checkpoint: AuditCheckpoint) async throws {
        do {
            try await database.insert(
                "audit_checkpoints",
                [
                    "_id": .string("\(checkpoint.kind.rawValue):\(checkpoint.seq)"), "kind": .string(checkpoint.kind.rawValue),
                    "seq": .int(checkpoint.seq), "hash": .string(Hex.encode(checkpoint.hash)),
                    "signed_at": .date(checkpoint.signedAt), "public_key": .string(Hex.encode(checkpoint.publicKey)),
                    "signature": .string(Hex.encode(checkpoint.signature)),
                ])
        } catch let failure as MongoFailure where failure.isDuplicateKey {
            // Another replica signed the same point first; its checkpoint stands.
        }
    }

    public func checkpoints() async throws -> [AuditCheckpoint] {
        try await database.find("audit_checkpoints", [:], sort: ["seq": .int(1)]).map { document in
            guard let kind = AuditCheckpoint.Kind(rawValue: try document.string("kind")),
                let seq = document["seq"]?.int,
                let hash = Hex.decode(try document.string("hash")),
                let publicKey = Hex.decode(try document.string("public_key")),
                let signature = Hex.decode(try document.string("signature"))
            else { throw CorruptDocument(field: "audit_checkpoints") }
            return AuditCheckpoint(
                kind: kind, seq: Int64(seq), hash: hash, signedAt: try document.date("signed_at"), publicKey: publicKey,
                signature: signature)
        }
    }

    public func forwardingCursor(_ sink: String) async throws -> Int64 {
        Int64(try await database.findOne("audit_forwarding", ["_id": .string(sink)])?["seq"]?.int ?? 0)
    }

    public func advanceForwardingCursor(_ sink: String, to seq: Int64, at now: Date) async throws {
        _ = try await database.update(
            "audit_forwarding", ["_id": .string(sink)],
            ["$max": .document(["seq": .int(seq)]), "$set": .document(["updated_at": .date(now)])], upsert: true)
    }

    public func firstSeq(since date: Date) async throws -> Int64? {
        var filter = AuditChainAppender.inChain
        filter["timestamp"] = .document(["$gte": .date(date)])
        return try await database.find("audit_logs", filter, sort: ["seq": .int(1)], limit: 1).first?["seq"]?.int.map(Int64.init)
    }

    /// The anchor first: a removal cut short leaves entries before the kept chain, which
    /// verification reports and the next retention pass removes.
    public func removeEntries(through anchor: AuditCheckpoint) async throws -> Int {
        try await insert(anchor)
        _ = try await database.delete(
            "audit_checkpoints", ["kind": .string("head"), "seq": .document(["$lte": .int(anchor.seq)])], many: true)
        return try await database.delete("audit_logs", ["seq": .document(["$lte": .int(anchor.seq)])], many: true)
    }

    /// Entries staged by a committed transaction and not yet sealed (moments, or until the
    /// recovery pass after a crash) are not counted: they are not in the chain yet, and will be.
    public func auditEntryCount() async throws -> Int {
        try await database.count("audit_logs", [AuditChainAppender.pending: .document(["$ne": .bool(true)])])
    }

    /// Seals the entries committed transactions staged and did not seal (their process died in
    /// between), oldest first, counting them in `report`; one that fails is reported there.
    func sealStagedEntries(into report: inout InterruptedChanges) async throws {
        let staged = try await database.find(
            "audit_logs", [AuditChainAppender.pending: .bool(true), "seq": .document(["$exists": .bool(false)])],
            sort: ["timestamp": .int(1), "_id": .int(1)])
        for document in staged {
            do {
                if try await chainAppender.seal(try Self.auditEvent(document), in: database) != nil { report.published += 1 }
            } catch {
                report.failures.append("staged entry \(document["_id"]?.string ?? "?"): \(error)")
            }
        }
    }

    /// Seals the entries written before the chain existed, oldest first, through the same
    /// appender (several replicas starting at once each seal an entry at most once); once per
    /// database, which a marker then records: an entry without `seq` found later is not sealed
    /// but reported by verification (it was not written by NeoSC).
    func sealEntriesFromBeforeTheChain() async throws {
        guard try await database.findOne("store_markers", ["_id": .string("audit_chain")]) == nil else { return }
        while let document = try await database.find(
            "audit_logs", ["seq": .document(["$exists": .bool(false)])], sort: ["timestamp": .int(1), "_id": .int(1)],
            limit: 1
        ).first {
            try await chainAppender.seal(try Self.auditEvent(document), in: database)
        }
        _ = try await database.update(
            "store_markers", ["_id": .string("audit_chain")], ["$set": .document(["sealed_at": .date(Date())])], upsert: true)
    }

    static func auditEvent(_ document: BSONDocument) throws -> AuditEvent {
        var details: [String: String] = [:]
        for field in document["details"]?.document?.fields ?? [] { details[field.key] = field.value.string }
        var seal: AuditSeal?
        if let seq = document["seq"]?.int, let hash = document["hash"]?.string.flatMap(Hex.decode) {
            seal = AuditSeal(
                seq: Int64(seq), prevHash: document["prev_hash"]?.string.flatMap(Hex.decode) ?? [], hash: hash)
        }
        return AuditEvent(
            id: try document.string("_id"), timestamp: try document.date("timestamp"),
            userID: document.optionalString("user_id"), userEmail: document.optionalString("user_email"),
            action: AuditAction(try document.string("action")), resourceType: document.optionalString("resource_type"),
            resourceID: document.optionalString("resource_id"), details: details,
            ipAddress: document.optionalString("ip_address"), success: try document.bool("success"), seal: seal)
    }

    public func events(_ query: AuditQuery) async throws -> [AuditEvent] {
        guard let filter = try await pageFilter(query) else { return [] }
        return try await database.find(
            "audit_logs", filter, sort: Self.trailOrder, limit: query.limit
        ).map(Self.auditEvent)
    }

    public func eventIDs(_ query: AuditQuery) async throws -> [String] {
        guard let filter = try await pageFilter(query) else { return [] }
        return try await database.find(
            "audit_logs", filter, sort: Self.trailOrder, limit: query.limit, projection: ["_id": .int(1)]
        ).map { try $0.string("_id") }
    }

    public func events(ids: [String]) async throws -> [AuditEvent] {
        guard !ids.isEmpty else { return [] }
        return try await database.find("audit_logs", withIDsIn: ids).map(Self.auditEvent)
    }

    /// What `query` selects as a filter; nil when its cursor names no entry (the page is empty).
    private func pageFilter(_ query: AuditQuery) async throws -> BSONDocument? {
        var filter: BSONDocument = [:]
        if let action = query.action { filter["action"] = .string(action.rawValue) }
        if let userID = query.userID { filter["user_id"] = .string(userID) }
        if let success = query.success { filter["success"] = .bool(success) }
        var window: BSONDocument = [:]
        if let since = query.since { window["$gte"] = .date(since) }
        if let until = query.until { window["$lte"] = .date(until) }
        if !window.fields.isEmpty { filter["timestamp"] = .document(window) }
        if let before = query.before {
            // After the cursor entry in the trail's order (timestamp, then seq, both descending).
            // An entry not yet sealed has no seq; past one, the page starts at the next time.
            guard let cursor = try await database.findOne("audit_logs", ["_id": .string(before)]) else { return nil }
            let timestamp = BSON.date(try cursor.date("timestamp"))
            var after: [BSON] = [.document(["timestamp": .document(["$lt": timestamp])])]
            if let seq = cursor["seq"]?.int {
                after.append(.document(["timestamp": timestamp, "seq": .document(["$lt": .int(Int64(seq))])]))
            }
            filter["$or"] = .array(after)
        }
        return filter
    }

    /// The audit list's order: newest first, and of entries of the same millisecond the last
    /// written first (the chain's times never go back, `AuditChain.sealed`).
    private static let trailOrder: BSONDocument = ["timestamp": .int(-1), "seq": .int(-1)]

    /// Whose entries `scope` means, as a `user_id` condition (nil: everyone's).
    private func userFilter(_ scope: AuditScope) async throws -> BSON? {
        switch scope {
        case .everyone: nil
        case .user(let userID): .string(userID)
        case .organization(let organizationID): .document(["$in": .array(try await userIDs(organizationID: organizationID))])
        }
    }

    public func count(of actions: [AuditAction], since: Date, scope: AuditScope) async throws -> Int {
        guard !actions.isEmpty else { return 0 }
        var filter: BSONDocument = [
            "action": .document(["$in": .array(actions.map { .string($0.rawValue) })]), "timestamp": .document(["$gte": .date(since)]),
        ]
        filter["user_id"] = try await userFilter(scope)
        return try await database.count("audit_logs", filter)
    }

    public func occurrences(of actions: [AuditAction], since: Date, scope: AuditScope, limit: Int) async throws -> [AuditOccurrence] {
        guard !actions.isEmpty else { return [] }
        var filter: BSONDocument = [
            "action": .document(["$in": .array(actions.map { .string($0.rawValue) })]), "timestamp": .document(["$gte": .date(since)]),
            "success": .bool(true),
        ]
        filter["user_id"] = try await userFilter(scope)
        let documents = try await database.find(
            "audit_logs", filter, sort: ["timestamp": .int(-1)], limit: limit, projection: ["action": .int(1), "timestamp": .int(1)])
        return try documents.map { AuditOccurrence(action: AuditAction(try $0.string("action")), at: try $0.date("timestamp")) }
    }
}

extension MongoStore: LoginUnlockStore {
    public func insert(_ unlock: LoginUnlock) async throws {
        try await database.insert(
            "login_unlocks", ["_id": .string(unlock.id), "email": .string(unlock.email), "at": .date(unlock.at)])
    }

    public func unlocks(since: Date) async throws -> [LoginUnlock] {
        try await database.find("login_unlocks", ["at": .document(["$gte": .date(since)])], sort: ["at": .int(1)]).map {
            LoginUnlock(id: try $0.string("_id"), email: try $0.string("email"), at: try $0.date("at"))
        }
    }
}
