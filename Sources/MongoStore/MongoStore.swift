import CMongoC
import Domain
import Foundation
import Logging
import Metrics
import NIOCore

/// The deployment store: every storage protocol on MongoDB through the C driver.
///
/// Writes that must not race across replicas are single atomic operations: session starts claim
/// a slot in the user's bounded `session_slots` array (demo starts, in `demo_slots`), sessions end through findAndModify on
/// `status: active`, policy toggles are compare-and-set. An audited change and its entries commit
/// together (`atomically`): in a multi-document transaction when the deployment has them (a
/// replica set or a sharded cluster), in a journaled change with an outbox on a standalone server.
public struct MongoStore: Store, Sendable {
    let database: MongoDatabase
    let chainAppender: AuditChainAppender
    /// The deployment runs multi-document transactions (it is a replica set or sharded cluster).
    public let transactional: Bool
    /// How long a journaled change (standalone server) may run before the recovery pass may undo it.
    let changeLease: Duration
    /// How long a change waits for a lease another holds (the administrators').
    let leaseWait: Duration

    public struct Options: Sendable {
        public var poolSize: Int
        /// Longest any driver call may take, connecting included; requests never hang past it.
        public var timeout: Duration
        /// Longest a call may wait for a free connection before it is refused (default: `timeout`).
        public var queueTimeout: Duration
        /// On a standalone server, how long a change may take before the recovery pass may undo
        /// it as abandoned by a process that died; a change starts no write after half of it.
        public var changeLease: Duration

        public init(
            poolSize: Int = 10, timeout: Duration = .seconds(5), queueTimeout: Duration? = nil,
            changeLease: Duration = .seconds(60)
        ) {
            self.poolSize = poolSize
            self.timeout = timeout
            self.queueTimeout = queueTimeout ?? timeout
            self.changeLease = changeLease
        }
    }

    public struct InvalidURL: Error, CustomStringConvertible {
        public var description: String
    }

    private static let driverInitialised: Void = { mongoc_init() }()

    /// Connects to `url` (retrying with backoff while the server cannot be reached, logging each
    /// attempt without credentials), creates the indexes and returns the store.
    public static func open(
        url: String, options: Options = .init(), logger: Logger, metrics: any MetricsFactory = MetricsSystem.factory
    ) async throws -> MongoStore {
        _ = driverInitialised
        var error = bson_error_t()
        guard let uri = mongoc_uri_new_with_error(url, &error) else {
            throw InvalidURL(description: "MONGO_URL is not a MongoDB connection string (\(MongoFailure(error).message))")
        }
        defer { mongoc_uri_destroy(uri) }
        let milliseconds = Int32(
            clamping: options.timeout.components.seconds * 1_000
                + options.timeout.components.attoseconds / 1_000_000_000_000_000)
        for option in [MONGOC_URI_SERVERSELECTIONTIMEOUTMS, MONGOC_URI_CONNECTTIMEOUTMS, MONGOC_URI_SOCKETTIMEOUTMS] {
            if !mongoc_uri_has_option(uri, option) { mongoc_uri_set_option_as_int32(uri, option, milliseconds) }
        }
        let name = mongoc_uri_get_database(uri).map { String(cString: $0) } ?? "neosc"
        let store = MongoStore(
            database: MongoDatabase(
                pool: MongoClientPool(
                    .init(uri: uri, size: options.poolSize), size: options.poolSize, timeout: options.queueTimeout),
                name: name, metrics: metrics),
            chainAppender: AuditChainAppender(), transactional: false, changeLease: options.changeLease,
            leaseWait: max(.seconds(5), options.timeout))
        let transactional = try await store.waitUntilReady(redactedURL: redacted(url), logger: logger)
        if !transactional {
            logger.notice(
                "MongoDB is a standalone server, without transactions: changes are journaled (change_journal) instead; a replica set is faster (docs/audit.md)"
            )
        }
        return MongoStore(
            database: store.database, chainAppender: store.chainAppender, transactional: transactional,
            changeLease: options.changeLease, leaseWait: store.leaseWait)
    }

    private init(
        database: MongoDatabase, chainAppender: AuditChainAppender, transactional: Bool, changeLease: Duration,
        leaseWait: Duration
    ) {
        self.database = database
        self.chainAppender = chainAppender
        self.transactional = transactional
        self.changeLease = changeLease
        self.leaseWait = leaseWait
    }

    /// `mongodb://user:secret@host/db` → `mongodb://***@host/db`: connection strings are logged only like this.
    public static func redacted(_ url: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].lastIndex(of: "@") else { return url }
        let hostStart = url[scheme.upperBound...].firstIndex(of: "/").map { min($0, at) } ?? at
        guard hostStart == at else { return url }
        return String(url[..<scheme.upperBound]) + "***" + String(url[at...])
    }

    /// Pings and creates the indexes, again with backoff while MongoDB does not answer in time: a
    /// database that is still starting, or slow (a loaded host), delays NeoSC's start, not ends it.
    /// Answers whether the deployment runs multi-document transactions.
    private func waitUntilReady(redactedURL: String, logger: Logger) async throws -> Bool {
        var delay = Duration.milliseconds(500)
        while true {
            do {
                let hello = try await database.command(["hello": .int(1)])
                try await createIndexes()
                try await sealEntriesFromBeforeTheChain()
                try await markSelfRegisteredAccounts()
                // Drivers' rule: a replica set member names its set, a mongos says "isdbgrid".
                let transactional = hello["setName"]?.string != nil || hello["msg"]?.string == "isdbgrid"
                logger.info(
                    "connected to MongoDB",
                    metadata: [
                        "url": "\(redactedURL)", "database": "\(database.name)", "transactions": "\(transactional)",
                    ])
                return transactional
            } catch DomainError.unavailable {
                logger.warning(
                    "MongoDB not reachable; retrying", metadata: ["url": "\(redactedURL)", "retry_in": "\(delay)"])
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(10))
            }
        }
    }

    private func createIndexes() async throws {
        func index(
            _ keys: BSONDocument, _ name: String, unique: Bool = false, sparse: Bool = false, expireAfter: Int? = nil
        ) -> BSON {
            var index: BSONDocument = ["key": .document(keys), "name": .string(name)]
            if unique { index["unique"] = .bool(true) }
            if sparse { index["sparse"] = .bool(true) }
            if let expireAfter { index["expireAfterSeconds"] = .int(expireAfter) }
            return .document(index)
        }
        let indexes: [(String, [BSON])] = [
            (
                "users",
                [
                    index(["email": .int(1)], "email_unique", unique: true),
                    index(["organization_id": .int(1)], "organization"),
                    index(["sso_key": .int(1)], "sso_unique", unique: true, sparse: true),
                ]
            ),
            ("organizations", [index(["name_key": .int(1)], "name_unique", unique: true)]),
            (
                "demo_sessions",
                [
                    index(["user_id": .int(1)], "user_unique", unique: true),
                    index(["status": .int(1), "expires_at": .int(1)], "status_expiry"),
                    index(["client_address": .int(1), "status": .int(1)], "address_status"),
                    index(["client_key": .int(1), "status": .int(1)], "client_status"),
                    index(["created_at": .int(-1)], "created"),
                ]
            ),
            (
                "tokens",
                [
                    index(["digest": .int(1)], "digest_unique", unique: true), index(["user_id": .int(1)], "user"),
                    // Tokens go a day after they expire, as the embedded store's sweeper does.
                    index(["expires_at": .int(1)], "expiry_ttl", expireAfter: 86_400),
                ]
            ),
            // Redeemed nonces go a day after their token's window (the sweeper also purges them).
            ("redeemed_nonces", [index(["expires_at": .int(1)], "expiry_ttl", expireAfter: 86_400)]),
            ("login_unlocks", [index(["at": .int(1)], "at_ttl", expireAfter: 86_400)]),
            // Sign-in challenges last minutes; they go an hour after (the sweeper also purges them).
            ("mfa_challenges", [index(["expires_at": .int(1)], "expiry_ttl", expireAfter: 3_600), index(["user_id": .int(1)], "user")]),
            // Stream tickets last seconds; they go a minute after (the sweeper also purges them).
            (
                "stream_tickets",
                [index(["expires_at": .int(1)], "expiry_ttl", expireAfter: 60), index(["session_id": .int(1), "issued_at": .int(-1)], "session")]
            ),
            // The recovery pass looks for journals whose lease has passed; the journals it
            // finished are kept a day (so that a change's own process learns their fate).
            (
                ChangeJournal.collection,
                [index(["lease_until": .int(1)], "lease"), index(["finished_at": .int(1)], "finished_ttl", expireAfter: 86_400)]
            ),
            (
                "sessions",
                [
                    index(["user_id": .int(1), "status": .int(1)], "user_status"),
                    // A stop: the user's newest active session on a workspace.
                    index(
                        ["user_id": .int(1), "workspace_id": .int(1), "status": .int(1), "started_at": .int(-1)],
                        "user_workspace"),
                    index(["status": .int(1), "workspace_id": .int(1)], "status_workspace"),
                    index(["started_at": .int(-1)], "started"),
                ]
            ),
            (
                "audit_logs",
                [
                    // The trail's order, (timestamp, seq), newest first: a page is read off the index.
                    index(["timestamp": .int(-1), "seq": .int(-1)], "time_seq"),
                    index(["user_id": .int(1), "timestamp": .int(-1), "seq": .int(-1)], "user_time_seq"),
                    index(["action": .int(1), "timestamp": .int(-1), "seq": .int(-1)], "action_time_seq"),
                    // One user's entries of some actions since a time: their dashboard.
                    index(["user_id": .int(1), "action": .int(1), "timestamp": .int(-1)], "user_action_time"),
                    // The chain's order; entries from before the chain have no `seq` until sealed.
                    index(["seq": .int(1)], "seq_unique", unique: true, sparse: true),
                    // The recovery pass looks for entries staged by a transaction and not sealed.
                    index([AuditChainAppender.pending: .int(1)], "pending_seal", sparse: true),
                ]
            ),
        ]
        for (collection, specs) in indexes {
            try await database.command(["createIndexes": .string(collection), "indexes": .array(specs)])
        }
        // The audit list's indexes before it was ordered by (timestamp, seq): the ones above
        // serve every query they served.
        for name in ["timestamp", "user_time", "action_time"] {
            do {
                try await database.command(["dropIndexes": .string("audit_logs"), "index": .string(name)])
            } catch let failure as MongoFailure where failure.isIndexNotFound {
                // Never created here, or dropped by another replica.
            }
        }
    }

    /// Marks each account stored before `self_registered` existed: those with a `register` entry
    /// still in the audit trail as self-registered, the others not. Every replica may run it at
    /// once: each update only fills the field where it is still missing.
    private func markSelfRegisteredAccounts() async throws {
        let unmarked: BSONDocument = ["self_registered": .document(["$exists": .bool(false)])]
        guard try await database.findOne("users", unmarked) != nil else { return }
        let registered = try await database.find(
            "audit_logs", ["action": .string(AuditAction.register.rawValue), "success": .bool(true)],
            projection: ["resource_id": .int(1)]
        ).compactMap { $0["resource_id"] }
        var theirs = unmarked
        theirs["_id"] = .document(["$in": .array(registered)])
        _ = try await database.update("users", theirs, ["$set": .document(["self_registered": .bool(true)])], many: true)
        _ = try await database.update("users", unmarked, ["$set": .document(["self_registered": .bool(false)])], many: true)
    }

    public func ping() async throws {
        try await database.command(["ping": .int(1)])
    }

    public func probeWrite(at now: Date) async throws {
        _ = try await database.update(
            "write_probe", ["_id": .string("health")], ["$set": .document(["written_at": .date(now)])], upsert: true)
    }

    public func close() async throws {
        try await database.pool.close()
    }

    public func seedDefaults(at now: Date) async throws {
        try await insertMissing(DefaultCatalogue.policies(at: now))
        if try await database.count("workspaces", [:]) == 0 {
            for (position, workspace) in DefaultCatalogue.workspaces(at: now).enumerated() {
                do {
                    try await insert(workspace, position: position)
                } catch DomainError.conflict {
                    // Another replica starting at the same moment seeded it first.
                }
            }
        }
    }
}

/// A stored document that lacks what NeoSC wrote into it.
struct CorruptDocument: Error, CustomStringConvertible {
    var field: String
    var description: String { "stored document has an unreadable '\(field)' field" }
}

extension BSONDocument {
    func string(_ key: String) throws -> String {
        guard let value = self[key]?.string else { throw CorruptDocument(field: key) }
        return value
    }

    func optionalString(_ key: String) -> String? { self[key]?.string }

    func int(_ key: String) throws -> Int {
        guard let value = self[key]?.int else { throw CorruptDocument(field: key) }
        return value
    }

    func bool(_ key: String) throws -> Bool {
        guard let value = self[key]?.bool else { throw CorruptDocument(field: key) }
        return value
    }

    func date(_ key: String) throws -> Date {
        guard let value = self[key]?.date else { throw CorruptDocument(field: key) }
        return value
    }

    func optionalDate(_ key: String) -> Date? { self[key]?.date }
}
