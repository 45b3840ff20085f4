import CMongoC
import Foundation
import Metrics

/// The few collection operations NeoSC needs, each one driver call on a pooled client.
/// Errors come back as `MongoFailure`, translated to 503 when the server is unreachable.
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

    private func withCollection<T: Sendable>(
        _ collection: String, _ body: @escaping @Sendable (OpaquePointer, inout bson_error_t) throws -> T
    ) async throws -> T {
        let database = name
        let started = DispatchTime.now()
        defer { timer.recordInterval(since: started) }
        do {
            return try await pool.run { client in
                let handle = mongoc_client_get_collection(client, database, collection)!
                defer { mongoc_collection_destroy(handle) }
                var error = bson_error_t()
                return try body(handle, &error)
            }
        } catch let failure as MongoFailure {
            throw failure.translated
        }
    }

    func insert(_ collection: String, _ document: BSONDocument) async throws {
        try await withCollection(collection) { handle, error in
            let inserted = try document.withBSON { mongoc_collection_insert_one(handle, $0, nil, nil, &error) }
            guard inserted else { throw MongoFailure(error) }
        }
    }

    /// Documents matching `filter`, in `sort` order, after skipping `skip`, at most `limit` (0: all).
    func find(
        _ collection: String, _ filter: BSONDocument, sort: BSONDocument? = nil, skip: Int = 0, limit: Int = 0
    ) async throws -> [BSONDocument] {
        try await withCollection(collection) { handle, error in
            var options: BSONDocument = [:]
            if let sort { options["sort"] = .document(sort) }
            if skip > 0 { options["skip"] = .int(skip) }
            if limit > 0 && limit < Int(Int32.max) { options["limit"] = .int(limit) }
            let cursor = try filter.withBSON { filterBSON in
                try options.withBSON { mongoc_collection_find_with_opts(handle, filterBSON, $0, nil)! }
            }
            defer { mongoc_cursor_destroy(cursor) }
            var documents: [BSONDocument] = []
            var current: OpaquePointer?
            while mongoc_cursor_next(cursor, &current), let current {
                documents.append(BSONDocument(reading: current))
            }
            if mongoc_cursor_error(cursor, &error) { throw MongoFailure(error) }
            return documents
        }
    }

    func findOne(_ collection: String, _ filter: BSONDocument) async throws -> BSONDocument? {
        try await find(collection, filter, limit: 1).first
    }

    func count(_ collection: String, _ filter: BSONDocument) async throws -> Int {
        try await withCollection(collection) { handle, error in
            let count = try filter.withBSON { mongoc_collection_count_documents(handle, $0, nil, nil, nil, &error) }
            guard count >= 0 else { throw MongoFailure(error) }
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
        try await withCollection(collection) { handle, error in
            let reply = neosc_bson_reply_new()!
            defer { neosc_bson_reply_free(reply) }
            let options: BSONDocument = upsert ? ["upsert": .bool(true)] : [:]
            let updated = try filter.withBSON { filterBSON in
                try update.withBSON { updateBSON in
                    try options.withBSON { optionsBSON in
                        many
                            ? mongoc_collection_update_many(handle, filterBSON, updateBSON, optionsBSON, reply, &error)
                            : mongoc_collection_update_one(handle, filterBSON, updateBSON, optionsBSON, reply, &error)
                    }
                }
            }
            guard updated else { throw MongoFailure(error) }
            let result = BSONDocument(reading: reply)
            return UpdateResult(
                matched: result["matchedCount"]?.int ?? 0, modified: result["modifiedCount"]?.int ?? 0,
                upserted: (result["upsertedCount"]?.int ?? 0) > 0)
        }
    }

    func delete(_ collection: String, _ filter: BSONDocument, many: Bool = false) async throws -> Int {
        try await withCollection(collection) { handle, error in
            let reply = neosc_bson_reply_new()!
            defer { neosc_bson_reply_free(reply) }
            let deleted = try filter.withBSON {
                many
                    ? mongoc_collection_delete_many(handle, $0, nil, reply, &error)
                    : mongoc_collection_delete_one(handle, $0, nil, reply, &error)
            }
            guard deleted else { throw MongoFailure(error) }
            return BSONDocument(reading: reply)["deletedCount"]?.int ?? 0
        }
    }

    /// Atomically applies `update` to the first document matching `query` (in `sort` order) and
    /// returns it as it is afterwards; nil when nothing matched.
    func findAndModify(
        _ collection: String, _ query: BSONDocument, update: BSONDocument, sort: BSONDocument? = nil
    ) async throws -> BSONDocument? {
        try await withCollection(collection) { handle, error in
            let reply = neosc_bson_reply_new()!
            defer { neosc_bson_reply_free(reply) }
            let modified = try query.withBSON { queryBSON in
                try update.withBSON { updateBSON in
                    try (sort ?? [:]).withBSON { sortBSON in
                        mongoc_collection_find_and_modify(
                            handle, queryBSON, sort == nil ? nil : sortBSON, updateBSON, nil, false, false, true,
                            reply, &error)
                    }
                }
            }
            guard modified else { throw MongoFailure(error) }
            return BSONDocument(reading: reply)["value"]?.document
        }
    }

    /// Runs a database command (`ping`, `createIndexes`, …) and returns its reply.
    @discardableResult
    func command(_ command: BSONDocument) async throws -> BSONDocument {
        let database = name
        let started = DispatchTime.now()
        defer { timer.recordInterval(since: started) }
        do {
            return try await pool.run { client in
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
