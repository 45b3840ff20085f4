import Domain
import Foundation
import SQLiteNIO

extension SQLiteStore: AuditStore {
    /// A change and its entries are one SQLite transaction: a process that dies leaves none
    /// unfinished.
    public func finishInterruptedChanges(at now: Date) async throws -> InterruptedChanges { InterruptedChanges() }

    /// Retention's walk, anchor and removal are one transaction with its entry.
    public var atomicallyHoldsBulkRemovals: Bool { true }

    @discardableResult
    public func append(_ event: AuditEvent) async throws -> AuditEvent {
        // The head is read (or known) and the entry written in the single writer's transaction:
        // the head found here is the head the entry follows.
        try await write(.inItsLastStatement) { connection in
            let head = try await headToFollow(on: connection)
            let sealed = AuditChain.sealed(event, seq: head.seq + 1, after: head.hash, notBefore: head.timestamp)
            let seal = sealed.seal!
            try await Self.insert(sealed, seal, on: connection)
            writerChainHead.remember(ChainHeadCache.Head(seq: seal.seq, hash: seal.hash, timestamp: sealed.timestamp))
            return sealed
        }
    }

    /// The head the next entry follows: the writer's transaction's (`ChainHeadCache`), else the
    /// store's, the genesis for an empty chain.
    private func headToFollow(on connection: SQLiteConnection) async throws -> ChainHeadCache.Head {
        if let known = writerChainHead.current { return known }
        return try await Self.storedChainHead(on: connection) ?? ChainHeadCache.Head(seq: 0, hash: AuditChain.genesis, timestamp: nil)
    }

    private static func insert(_ sealed: AuditEvent, _ seal: AuditSeal, on connection: SQLiteConnection) async throws {
        try await connection.execute(
            """
            INSERT INTO audit_logs (seq, id, timestamp, user_id, user_email, action, resource_type, resource_id,
                details, ip_address, success, prev_hash, hash)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .integer(Int(seal.seq)), .text(sealed.id), .init(sealed.timestamp), .init(sealed.userID),
                .init(sealed.userEmail), .text(sealed.action.rawValue), .init(sealed.resourceType),
                .init(sealed.resourceID), try .json(sealed.details), .init(sealed.ipAddress), .init(sealed.success),
                .bytes(seal.prevHash), .bytes(seal.hash),
            ])
    }

    /// The newest entry's place, or the last removed entry's when retention left none. A newest
    /// row without a hash (changed behind NeoSC's back) is followed all the same, after 32 zero
    /// bytes: appends go on, and verification reports the row.
    private static func storedChainHead(on connection: SQLiteConnection) async throws -> ChainHeadCache.Head? {
        if let row = try await connection.rows("SELECT seq, hash, timestamp FROM audit_logs ORDER BY seq DESC LIMIT 1").first {
            return ChainHeadCache.Head(
                seq: Int64(try row.int("seq")), hash: row.optionalBytes("hash") ?? AuditChain.genesis,
                timestamp: row.optionalDate("timestamp"))
        }
        if let row = try await connection.rows(
            "SELECT seq, hash FROM audit_checkpoints WHERE kind = 'retention' ORDER BY seq DESC LIMIT 1"
        ).first {
            return ChainHeadCache.Head(seq: Int64(try row.int("seq")), hash: try row.bytes("hash"), timestamp: nil)
        }
        return nil
    }

    public func auditEntryCount() async throws -> Int {
        try await read { connection in
            try await connection.rows("SELECT COUNT(*) AS n FROM audit_logs").first?.int("n") ?? 0
        }
    }

    public func chainHead() async throws -> AuditSeal? {
        try await read { connection in
            try await connection.rows(
                "SELECT * FROM audit_logs ORDER BY seq DESC LIMIT 1"
            ).first.map(Self.event)?.seal
        }
    }

    public func chain(from seq: Int64, limit: Int) async throws -> [AuditEvent] {
        try await read { connection in
            try await connection.rows(
                "SELECT * FROM audit_logs WHERE seq >= ? ORDER BY seq" + limitClause(limit), [.integer(Int(seq))]
            ).map(Self.event)
        }
    }

    public func insert(_ checkpoint: AuditCheckpoint) async throws {
        try await write { connection in
            try await connection.execute(
                """
                INSERT INTO audit_checkpoints (kind, seq, hash, signed_at, public_key, signature)
                VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind, seq) DO NOTHING
                """,
                [
                    .text(checkpoint.kind.rawValue), .integer(Int(checkpoint.seq)), .bytes(checkpoint.hash),
                    .init(checkpoint.signedAt), .bytes(checkpoint.publicKey), .bytes(checkpoint.signature),
                ])
        }
    }

    public func forwardingCursor(_ sink: String) async throws -> Int64 {
        try await read { connection in
            try await connection.rows("SELECT seq FROM audit_forwarding WHERE sink = ?", [.text(sink)]).first
                .map { Int64(try $0.int("seq")) } ?? 0
        }
    }

    public func advanceForwardingCursor(_ sink: String, to seq: Int64, at now: Date) async throws {
        try await write { connection in
            try await connection.execute(
                """
                INSERT INTO audit_forwarding (sink, seq, updated_at) VALUES (?1, ?2, ?3)
                ON CONFLICT (sink) DO UPDATE SET seq = max(seq, excluded.seq), updated_at = excluded.updated_at
                """, [.text(sink), .integer(Int(seq)), .init(now)])
        }
    }

    public func firstSeq(since date: Date) async throws -> Int64? {
        try await read { connection in
            try await connection.rows("SELECT MIN(seq) AS seq FROM audit_logs WHERE timestamp >= ?", [.init(date)])
                .first?.column("seq")?.integer.map(Int64.init)
        }
    }

    /// One transaction: the anchor and the removal commit together.
    public func removeEntries(through anchor: AuditCheckpoint) async throws -> Int {
        try await atomically {
            try await insert(anchor)
            writerChainHead.forget()
            return try await write { connection in
                try await connection.execute(
                    "DELETE FROM audit_checkpoints WHERE kind = 'head' AND seq <= ?", [.integer(Int(anchor.seq))])
                return try await connection.changedRows(
                    "DELETE FROM audit_logs WHERE seq <= ? RETURNING 1", [.integer(Int(anchor.seq))])
            }
        }
    }

    public func checkpoints() async throws -> [AuditCheckpoint] {
        try await read { connection in
            try await connection.rows("SELECT * FROM audit_checkpoints ORDER BY seq").map { row in
                guard let kind = AuditCheckpoint.Kind(rawValue: try row.string("kind")) else {
                    throw CorruptRow(column: "kind")
                }
                return AuditCheckpoint(
                    kind: kind, seq: Int64(try row.int("seq")), hash: try row.bytes("hash"),
                    signedAt: try row.date("signed_at"), publicKey: try row.bytes("public_key"),
                    signature: try row.bytes("signature"))
            }
        }
    }

    /// Seals the entries written before the chain existed, in `seq` order, numbering them from 1
    /// without gaps. Part of the migration to the chain's schema, in its transaction: runs once,
    /// before anything else writes, and never again (an unsealed entry found later is reported
    /// by verification, not sealed).
    static func sealEntriesFromBeforeTheChain(on connection: SQLiteConnection) async throws {
        var seq: Int64 = 0
        var previous = AuditChain.genesis
        for row in try await connection.rows("SELECT * FROM audit_logs ORDER BY seq") {
            let event = try event(row)
            seq += 1
            let sealed = AuditChain.sealed(event, seq: seq, after: previous)
            // Renumbering ascending only ever moves an entry down to a number no row holds.
            try await connection.execute(
                "UPDATE audit_logs SET seq = ?, timestamp = ?, prev_hash = ?, hash = ? WHERE id = ?",
                [
                    .integer(Int(seq)), .init(sealed.timestamp), .bytes(sealed.seal!.prevHash),
                    .bytes(sealed.seal!.hash), .text(event.id),
                ])
            previous = sealed.seal!.hash
        }
    }

    static func event(_ row: SQLiteRow) throws -> AuditEvent {
        var seal: AuditSeal?
        if let hash = row.optionalBytes("hash") {
            seal = AuditSeal(
                seq: Int64(try row.int("seq")), prevHash: row.optionalBytes("prev_hash") ?? [], hash: hash)
        }
        return AuditEvent(
            id: try row.string("id"), timestamp: try row.date("timestamp"),
            userID: row.optionalString("user_id"), userEmail: row.optionalString("user_email"),
            action: AuditAction(try row.string("action")), resourceType: row.optionalString("resource_type"),
            resourceID: row.optionalString("resource_id"),
            details: try row.stringMap(json: "details"),
            ipAddress: row.optionalString("ip_address"), success: try row.bool("success"), seal: seal)
    }

    public func events(_ query: AuditQuery) async throws -> [AuditEvent] {
        try await read { connection in try await Self.page(query, columns: "*", on: connection).map(Self.event) }
    }

    public func eventIDs(_ query: AuditQuery) async throws -> [String] {
        try await read { connection in try await Self.page(query, columns: "id", on: connection).map { try $0.string("id") } }
    }

    public func events(ids: [String]) async throws -> [AuditEvent] {
        guard !ids.isEmpty else { return [] }
        return try await read { connection in try await connection.rows(of: "audit_logs", where: "id", isIn: ids).map(Self.event) }
    }

    /// Two seeks: the newest row (its `seq` and hash) and the oldest `seq` (as one `max` and `min`
    /// SQLite would scan the table). Every entry gets the `seq` after the chain's head and
    /// retention removes the oldest, so these move whenever the trail changes, whoever writes it.
    /// An empty trail has none: nothing is answered again by it.
    /// Read again only when a transaction of this process has ended since, or after
    /// `TrailVersionCache.outsideWritesSeenWithin` (another process's appends).
    public func trailVersion() async throws -> AuditTrailVersion? {
        // Inside `atomically` the transaction's own uncommitted entries count: read them.
        if openTransaction != nil { return try await readTrailVersion() }
        switch knownTrailVersion.lookup() {
        case .known(let version):
            return version
        case .read(let ticket):
            let version = try await readTrailVersion()
            knownTrailVersion.remember(version, ticket: ticket)
            return version
        }
    }

    private func readTrailVersion() async throws -> AuditTrailVersion? {
        try await read { connection in
            guard
                let row = try await connection.rows(
                    """
                    SELECT seq, hash, (SELECT min(seq) FROM audit_logs) AS oldest
                    FROM audit_logs ORDER BY seq DESC LIMIT 1
                    """
                ).first
            else { return nil }
            return AuditTrailVersion(
                newest: Int64(try row.int("seq")), newestHash: row.optionalBytes("hash") ?? [], oldest: Int64(try row.int("oldest")))
        }
    }

    /// `columns` of the entries `query` selects, newest first: one statement (two after a cursor).
    private static func page(_ query: AuditQuery, columns: String, on connection: SQLiteConnection) async throws -> [SQLiteRow] {
        var cursor: (timestamp: SQLiteData, seq: SQLiteData)?
        if let before = query.before {
            guard
                let row = try await connection.rows(
                    "SELECT timestamp, seq FROM audit_logs WHERE id = ?", [.text(before)]
                ).first,
                let timestamp = row.column("timestamp"), let seq = row.column("seq")
            else { return [] }
            cursor = (timestamp, seq)
        }
        var binds = NumberedBinds()
        let statement = pageStatement(query, columns: columns, after: cursor, binds: &binds)
        return try await connection.rows(statement, binds.values)
    }

    /// The statement reading `columns` of the entries `query` selects after `cursor` (an entry's
    /// timestamp and seq; the newest page without one), newest first; `query.before` is the
    /// caller's to resolve.
    static func pageStatement(
        _ query: AuditQuery, columns: String, after cursor: (timestamp: SQLiteData, seq: SQLiteData)?, binds: inout NumberedBinds
    ) -> String {
        var conditions: [String] = []
        // The page starts after the cursor entry in (timestamp, seq) order, or at the top. A
        // plain `timestamp <= ?` lets SQLite seek the timestamp index to it: each page costs
        // its own rows, not a scan of every newer entry (an export of 1,000,000 was quadratic).
        if let cursor {
            let timestamp = binds.mark(cursor.timestamp)
            let seq = binds.mark(cursor.seq)
            conditions += ["timestamp <= \(timestamp)", "(timestamp < \(timestamp) OR seq < \(seq))"]
        }
        // Only the filters given are written into the statement: `?2 IS NULL OR user_id = ?2`
        // kept SQLite off the (user_id, timestamp) index, so one user's ten newest entries
        // walked the whole trail by time (190 ms on 100,000 entries; the dashboard's list).
        if let action = query.action { conditions.append("action = \(binds.mark(.text(action.rawValue)))") }
        if let userID = query.userID { conditions.append("user_id = \(binds.mark(.text(userID)))") }
        if let success = query.success { conditions.append("success = \(binds.mark(.init(success)))") }
        if let since = query.since { conditions.append("timestamp >= \(binds.mark(.init(since)))") }
        if let until = query.until { conditions.append("timestamp <= \(binds.mark(.init(until)))") }
        return "SELECT \(columns) FROM audit_logs" + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
            + " ORDER BY timestamp DESC, seq DESC" + limitClause(query.limit)
    }

    public func count(of actions: [AuditAction], since: Date, scope: AuditScope) async throws -> Int {
        guard !actions.isEmpty else { return 0 }
        var binds = NumberedBinds()
        let statement = Self.countStatement(OverviewQuery.Count(actions, since: since, scope: scope), binds: &binds)
        return try await read { connection in try await connection.rows(statement, binds.values).first?.int("n") ?? 0 }
    }

    /// The statement counting `count`'s entries, as `n`.
    static func countStatement(_ count: OverviewQuery.Count, binds: inout NumberedBinds) -> String {
        guard !count.actions.isEmpty else { return "SELECT 0 AS n" }
        let actions = count.actions.map { binds.mark(.text($0.rawValue)) }.joined(separator: ", ")
        let since = binds.mark(.init(count.since))
        switch count.scope {
        case .everyone:
            return "SELECT COUNT(*) AS n FROM audit_logs WHERE action IN (\(actions)) AND timestamp >= \(since)"
        case .user(let userID):
            return """
                SELECT COUNT(*) AS n FROM audit_logs
                WHERE action IN (\(actions)) AND timestamp >= \(since) AND user_id = \(binds.mark(.text(userID)))
                """
        case .organization(let organizationID):
            return """
                SELECT COUNT(*) AS n FROM audit_logs JOIN users ON users.id = audit_logs.user_id
                WHERE audit_logs.action IN (\(actions)) AND audit_logs.timestamp >= \(since)
                    AND users.organization_id = \(binds.mark(.text(organizationID)))
                """
        }
    }

    public func occurrences(of actions: [AuditAction], since: Date, scope: AuditScope, limit: Int) async throws -> [AuditOccurrence] {
        guard !actions.isEmpty else { return [] }
        return try await read { connection in
            let marks = Array(repeating: "?", count: actions.count).joined(separator: ", ")
            var binds: [SQLiteData] = actions.map { .text($0.rawValue) } + [.init(since)]
            var sql: String
            switch scope {
            case .everyone:
                sql = "SELECT action, timestamp FROM audit_logs WHERE action IN (\(marks)) AND timestamp >= ? AND success = 1"
            case .user(let userID):
                sql = "SELECT action, timestamp FROM audit_logs WHERE action IN (\(marks)) AND timestamp >= ? AND user_id = ? AND success = 1"
                binds.append(.text(userID))
            case .organization(let organizationID):
                sql = """
                    SELECT audit_logs.action AS action, audit_logs.timestamp AS timestamp
                    FROM audit_logs JOIN users ON users.id = audit_logs.user_id
                    WHERE audit_logs.action IN (\(marks)) AND audit_logs.timestamp >= ? AND users.organization_id = ?
                        AND audit_logs.success = 1
                    """
                binds.append(.text(organizationID))
            }
            return try await connection.rows(sql + " ORDER BY timestamp DESC" + limitClause(limit), binds).map {
                AuditOccurrence(action: AuditAction(try $0.string("action")), at: try $0.date("timestamp"))
            }
        }
    }
}
