import CMongoC
import Domain
import Foundation
import Metrics

/// The few collection operations NeoSC needs, each one driver call on a pooled client, or on the
/// client of the transaction the calling task runs in (`MongoTransaction.current`), with its
/// session. Errors come back as `MongoFailure`, translated to 503 when the server is unreachable.
struct MongoDatabase: Sendable {
    let pool: MongoClientPool
    let name: String
    /// Time per driver call, waiting for a pooled client included.
    let timer: Timer

    init(pool: MongoClientPool, name: String, metrics: any MetricsFactory) {
        self.pool = pool
        self.name = name
        timer = Timer(
            label: "store_operation_duration_seconds", dimensions: [("store", "mongodb"), ("operation", "call")], factory: metrics)
    }

    /// The calling task runs in an open transaction of this database's: a failed statement has
    /// aborted it, so a failure cannot be caught and carried on from (`MongoFailure.restart`).
    var inTransaction: Bool {
        MongoTransaction.current.map { $0.pool == ObjectIdentifier(pool) && $0.isOpen } ?? false
    }

    /// Runs `body` with the collection and a `Call` that adds the transaction's session, if any,
    /// to the options of the statement.
    private func withCollection<T: Sendable>(
        _ collection: String, _ body: @escaping @Sendable (OpaquePointer, Call) throws -> T
    ) async throws -> T {
        let database = name
        let started = DispatchTime.now()
        defer { timer.recordInterval(since: started) }
        do {
            return try await pool.run { client, session in
                let handle = mongoc_client_get_collection(client, database, collection)!
                defer { mongoc_collection_destroy(handle) }
                return try body(handle, Call(session: session))
            }
        } catch let failure as MongoFailure {
            throw failure.translated
        }
    }

    /// One statement's options, with the session of the transaction it belongs to.
    struct Call {
        let session: OpaquePointer?

        func withOptions<T>(_ options: BSONDocument, _ body: (OpaquePointer) throws -> T) throws -> T {
            try options.withBSON { bson in
                if let session {
                    var error = bson_error_t()
                    guard mongoc_client_session_append(session, bson, &error) else { throw MongoFailure(error) }
                }
                return try body(bson)
            }
        }

        /// Runs `body` with a reply document and an error; a false answer throws the error,
        /// labelled from the reply.
        func checked<T>(
            _ body: (OpaquePointer, inout bson_error_t) throws -> Bool, reading: (OpaquePointer) -> T
        )
            throws -> T
        {
            let reply = neosc_bson_reply_new()!
            defer { neosc_bson_reply_free(reply) }
            var error = bson_error_t()
            guard try body(reply, &error) else { throw MongoFailure(error, reply: reply) }
            return reading(reply)
        }
    }

    func insert(_ collection: String, _ document: BSONDocument) async throws {
        var document = document
        if let journal = openJournal {
            try await journalInsert(journal, into: collection, document)
            document = journal.marked(document: document)
        }
        try await withCollection(collection) { [document] handle, call in
            try call.checked(
                { reply, error in
                    try document.withBSON { documentBSON in
                        try call.withOptions([:]) { mongoc_collection_insert_one(handle, documentBSON, $0, reply, &error) }
                    }
                }, reading: { _ in })
        }
    }

    /// Documents matching `filter`, in `sort` order, after skipping `skip`, at most `limit` (0: all).
    func find(
        _ collection: String, _ filter: BSONDocument, sort: BSONDocument? = nil, skip: Int = 0, limit: Int = 0,
        projection: BSONDocument? = nil
    ) async throws -> [BSONDocument] {
        try await withCollection(collection) { handle, call in
            var options: BSONDocument = [:]
            if let sort { options["sort"] = .document(sort) }
            if let projection { options["projection"] = .document(projection) }
            if skip > 0 { options["skip"] = .int(skip) }
            if limit > 0 && limit < Int(Int32.max) { options["limit"] = .int(limit) }
            let cursor = try filter.withBSON { filterBSON in
                try call.withOptions(options) { mongoc_collection_find_with_opts(handle, filterBSON, $0, nil)! }
            }
            defer { mongoc_cursor_destroy(cursor) }
            var documents: [BSONDocument] = []
            var current: OpaquePointer?
            while mongoc_cursor_next(cursor, &current), let current {
                documents.append(BSONDocument(reading: current))
            }
            var error = bson_error_t()
            var reply: OpaquePointer?
            if mongoc_cursor_error_document(cursor, &error, &reply) { throw MongoFailure(error, reply: reply) }
            return documents
        }
    }

    /// The documents whose `_id` is one of `ids` (repeats read once), a few hundred per query.
    func find(_ collection: String, withIDsIn ids: [String]) async throws -> [BSONDocument] {
        let ids = Array(Set(ids))
        var documents: [BSONDocument] = []
        for start in stride(from: 0, to: ids.count, by: 500) {
            let chunk = ids[start..<min(start + 500, ids.count)]
            documents += try await find(collection, ["_id": .document(["$in": .array(chunk.map { .string($0) })])])
        }
        return documents
    }

    func findOne(_ collection: String, _ filter: BSONDocument) async throws -> BSONDocument? {
        try await find(collection, filter, limit: 1).first
    }

    func count(_ collection: String, _ filter: BSONDocument) async throws -> Int {
        try await withCollection(collection) { handle, call in
            var count: Int64 = -1
            try call.checked(
                { reply, error in
                    count = try filter.withBSON { filterBSON in
                        try call.withOptions([:]) { mongoc_collection_count_documents(handle, filterBSON, $0, nil, reply, &error) }
                    }
                    return count >= 0
                }, reading: { _ in })
            return Int(count)
        }
    }

    struct UpdateResult: Sendable {
        var matched: Int
        var modified: Int
        var upserted: Bool
    }

    func update(
        _ collection: String, _ filter: BSONDocument, _ update: BSONDocument, many: Bool = false, upsert: Bool = false
    ) async throws -> UpdateResult {
        var update = update
        var filter = filter
        if let journal = openJournal {
            // An upsert inserts the `_id` its filter names (NeoSC's upserts all name one).
            let upsertID = upsert ? filter["_id"].flatMap { $0.document == nil ? $0 : nil } : nil
            if upsert && upsertID == nil { throw DomainError.invalid("An upsert in a change must name its _id") }
            filter = try await journalWrite(journal, to: collection, matching: filter, one: !many, upsertID: upsertID)
            update = journal.marked(update: update)
        }
        return try await withCollection(collection) { [update, filter] handle, call in
            let options: BSONDocument = upsert ? ["upsert": .bool(true)] : [:]
            let result = try call.checked(
                { reply, error in
                    try filter.withBSON { filterBSON in
                        try update.withBSON { updateBSON in
                            try call.withOptions(options) { optionsBSON in
                                many
                                    ? mongoc_collection_update_many(handle, filterBSON, updateBSON, optionsBSON, reply, &error)
                                    : mongoc_collection_update_one(handle, filterBSON, updateBSON, optionsBSON, reply, &error)
                            }
                        }
                    }
                }, reading: BSONDocument.init(reading:))
            return UpdateResult(
                matched: result["matchedCount"]?.int ?? 0, modified: result["modifiedCount"]?.int ?? 0,
                upserted: (result["upsertedCount"]?.int ?? 0) > 0)
        }
    }

    func delete(_ collection: String, _ filter: BSONDocument, many: Bool = false) async throws -> Int {
        var filter = filter
        if let journal = openJournal {
            filter = try await journalWrite(journal, to: collection, matching: filter, one: !many, deleting: true)
        }
        return try await withCollection(collection) { [filter] handle, call in
            try call.checked(
                { reply, error in
                    try filter.withBSON { filterBSON in
                        try call.withOptions([:]) { optionsBSON in
                            many
                                ? mongoc_collection_delete_many(handle, filterBSON, optionsBSON, reply, &error)
                                : mongoc_collection_delete_one(handle, filterBSON, optionsBSON, reply, &error)
                        }
                    }
                }, reading: { BSONDocument(reading: $0)["deletedCount"]?.int ?? 0 })
        }
    }

    /// Replaces the document matching `filter` with `replacement`; whether one matched. Not
    /// journaled: only the undoing of a change replaces documents.
    func replace(_ collection: String, _ filter: BSONDocument, with replacement: BSONDocument) async throws -> Bool {
        try await withCollection(collection) { handle, call in
            try call.checked(
                { reply, error in
                    try filter.withBSON { filterBSON in
                        try replacement.withBSON { replacementBSON in
                            try call.withOptions([:]) {
                                mongoc_collection_replace_one(handle, filterBSON, replacementBSON, $0, reply, &error)
                            }
                        }
                    }
                }, reading: { (BSONDocument(reading: $0)["matchedCount"]?.int ?? 0) == 1 })
        }
    }

    /// Atomically applies `update` to the first document matching `query` (in `sort` order) and
    /// returns it as it is afterwards; nil when nothing matched.
    func findAndModify(
        _ collection: String, _ query: BSONDocument, update: BSONDocument, sort: BSONDocument? = nil
    ) async throws -> BSONDocument? {
        var update = update
        var query = query
        if let journal = openJournal {
            query = try await journalWrite(journal, to: collection, matching: query, sort: sort, one: true)
            update = journal.marked(update: update)
        }
        return try await withCollection(collection) { [update, query] handle, call in
            let options = mongoc_find_and_modify_opts_new()!
            defer { mongoc_find_and_modify_opts_destroy(options) }
            return try call.checked(
                { reply, error in
                    try update.withBSON { updateBSON in
                        guard mongoc_find_and_modify_opts_set_update(options, updateBSON),
                            mongoc_find_and_modify_opts_set_flags(options, MONGOC_FIND_AND_MODIFY_RETURN_NEW)
                        else { return false }
                        if let sort {
                            guard try sort.withBSON({ mongoc_find_and_modify_opts_set_sort(options, $0) }) else { return false }
                        }
                        // The session goes in as an extra option, appended to the command as it is sent.
                        guard try call.withOptions([:], { mongoc_find_and_modify_opts_append(options, $0) }) else { return false }
                        return try query.withBSON { mongoc_collection_find_and_modify_with_opts(handle, $0, options, reply, &error) }
                    }
                }, reading: { BSONDocument(reading: $0)["value"]?.document })
        }
    }

    /// Atomically removes the first document matching `query` and returns it; nil when nothing
    /// matched. Never journaled: an undone change does not bring back what this removed, which
    /// is what a single-use take needs (call it outside `atomically`).
    func findAndRemove(_ collection: String, _ query: BSONDocument) async throws -> BSONDocument? {
        try await unjournaled {
            try await withCollection(collection) { handle, call in
                let options = mongoc_find_and_modify_opts_new()!
                defer { mongoc_find_and_modify_opts_destroy(options) }
                return try call.checked(
                    { reply, error in
                        guard mongoc_find_and_modify_opts_set_flags(options, MONGOC_FIND_AND_MODIFY_REMOVE),
                            try call.withOptions([:], { mongoc_find_and_modify_opts_append(options, $0) })
                        else { return false }
                        return try query.withBSON { mongoc_collection_find_and_modify_with_opts(handle, $0, options, reply, &error) }
                    }, reading: { BSONDocument(reading: $0)["value"]?.document })
            }
        }
    }

    /// Runs a database command (`ping`, `createIndexes`, …) and returns its reply.
    @discardableResult
    func command(_ command: BSONDocument) async throws -> BSONDocument {
        let database = name
        let started = DispatchTime.now()
        defer { timer.recordInterval(since: started) }
        do {
            return try await pool.run { client, _ in
                let reply = neosc_bson_reply_new()!
                defer { neosc_bson_reply_free(reply) }
                var error = bson_error_t()
                let succeeded = try command.withBSON {
                    mongoc_client_command_simple(client, database, $0, nil, reply, &error)
                }
                guard succeeded else { throw MongoFailure(error) }
                return BSONDocument(reading: reply)
            }
        } catch let failure as MongoFailure {
            throw failure.translated
        }
    }
}
