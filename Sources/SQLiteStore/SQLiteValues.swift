import Foundation
import NIOCore
import SQLiteNIO

/// A row that does not hold what the schema promises: the file was changed behind NeoSC's back.
struct CorruptRow: Error, CustomStringConvertible {
    var column: String
    var description: String { "stored row has an unreadable '\(column)' column" }
}

extension SQLiteConnection {
    /// Runs one statement on the connection's thread pool and returns its rows.
    func rows(_ sql: String, _ binds: [SQLiteData] = []) async throws -> [SQLiteRow] {
        let collector = RowCollector()
        // The class's own `query` runs the whole statement in one thread-pool job, so `onRow`
        // is called serially and the collector needs no lock.
        try await query(sql, binds) { collector.rows.append($0) }
        return collector.rows
    }

    /// The rows of `table` (or a join) whose `column` is one of `keys` (repeats read once), a few
    /// hundred keys per statement: far under SQLite's limit on bound values, and one plan for every
    /// full chunk.
    func rows(of table: String, where column: String, isIn keys: [String], selecting columns: String = "*") async throws -> [SQLiteRow] {
        let keys = Array(Set(keys))
        var rows: [SQLiteRow] = []
        for start in stride(from: 0, to: keys.count, by: 500) {
            let chunk = keys[start..<min(start + 500, keys.count)]
            let marks = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
            rows += try await self.rows("SELECT \(columns) FROM \(table) WHERE \(column) IN (\(marks))", chunk.map { .text($0) })
        }
        return rows
    }

    func execute(_ sql: String, _ binds: [SQLiteData] = []) async throws {
        _ = try await rows(sql, binds)
    }

    /// Runs a statement that keeps a transaction whole (`BEGIN`, `SAVEPOINT`, `RELEASE`, `COMMIT`,
    /// `ROLLBACK`), in a cancelled task too. SQLiteNIO's async calls go through `NIOThreadPool`,
    /// which skips the job of a cancelled task and throws `CancellationError` without running
    /// it: a request cancelled mid-change would leave its savepoint, or the writer's whole
    /// transaction, open for the next change to trip over. The future-based call runs it
    /// regardless: at once when the task is already cancelled, else after the async call threw
    /// `CancellationError` (the task was cancelled before the job started, so the statement did
    /// not run: a job that starts runs to its end and answers with its own outcome).
    func executeEvenIfCancelled(_ sql: String) async throws {
        if Task.isCancelled { return try await runEvenIfCancelled(sql) }
        do {
            try await execute(sql)
        } catch is CancellationError {
            try await runEvenIfCancelled(sql)
        }
    }

    private func runEvenIfCancelled(_ sql: String) async throws {
        try await query(sql, [], logger: logger) { _ in }.get()
    }

    /// Closes the connection in a cancelled task too (a shutdown past its grace period cancels
    /// the task that closes the store), where the async `close()` would be skipped.
    func closeEvenIfCancelled() async throws {
        let closed: EventLoopFuture<Void> = close()
        try await closed.get()
    }

    /// Runs an UPDATE or DELETE that ends in `RETURNING 1` and says how many rows it changed,
    /// in the same statement (no second round trip for `changes()`).
    func changedRows(_ sql: String, _ binds: [SQLiteData] = []) async throws -> Int {
        try await rows(sql, binds).count
    }
}

private final class RowCollector: @unchecked Sendable {
    var rows: [SQLiteRow] = []
}

extension SQLiteRow {
    func string(_ column: String) throws -> String {
        guard let value = self.column(column)?.string else { throw CorruptRow(column: column) }
        return value
    }

    func optionalString(_ column: String) -> String? {
        guard let data = self.column(column), !data.isNull else { return nil }
        return data.string
    }

    func int(_ column: String) throws -> Int {
        guard let value = self.column(column)?.integer else { throw CorruptRow(column: column) }
        return Int(value)
    }

    func bytes(_ column: String) throws -> [UInt8] {
        guard let value = optionalBytes(column) else { throw CorruptRow(column: column) }
        return value
    }

    func optionalBytes(_ column: String) -> [UInt8]? {
        guard let buffer = self.column(column)?.blob else { return nil }
        return Array(buffer.readableBytesView)
    }

    func bool(_ column: String) throws -> Bool {
        try int(column) != 0
    }

    func date(_ column: String) throws -> Date {
        guard let value = self.column(column)?.double else { throw CorruptRow(column: column) }
        return Date(timeIntervalSince1970: value)
    }

    func optionalDate(_ column: String) -> Date? {
        guard let data = self.column(column), !data.isNull, let value = data.double else { return nil }
        return Date(timeIntervalSince1970: value)
    }

    private static let decoder = JSONDecoder()

    /// A column holding a JSON object of strings (audit details): read by `FlatJSONObject`, or by
    /// `JSONDecoder` when that declines.
    func stringMap(json column: String) throws -> [String: String] {
        if let text = self.column(column)?.string, let map = FlatJSONObject.decode(text) { return map }
        return try decoded([String: String].self, json: column)
    }

    func decoded<Value: Decodable>(_ type: Value.Type, json column: String) throws -> Value {
        guard let text = self.column(column)?.string,
            let value = try? Self.decoder.decode(Value.self, from: Data(text.utf8))
        else { throw CorruptRow(column: column) }
        return value
    }
}

/// ` LIMIT n` (and ` OFFSET m`), the numbers written into the statement rather than bound. SQLite
/// plans a statement for the value of a bound LIMIT, so binding one expires the statement and its
/// first step compiles it a second time (`sqlite3Reprepare`): every query with a bound LIMIT was
/// parsed and planned twice. An `Int` in decimal is digits and a sign, nothing a statement could
/// be made to say.
func limitClause(_ limit: Int, offset: Int = 0) -> String {
    offset == 0 ? " LIMIT \(limit)" : " LIMIT \(limit) OFFSET \(offset)"
}

/// A statement's bound values, each written into it as its number (`?1`, `?2`, …) as it is
/// added: a statement put together from parts numbers them without counting by hand.
struct NumberedBinds {
    private(set) var values: [SQLiteData] = []

    /// `value`'s place in the statement.
    mutating func mark(_ value: SQLiteData) -> String {
        values.append(value)
        return "?\(values.count)"
    }
}

extension SQLiteData {
    init(_ date: Date) { self = .float(date.timeIntervalSince1970) }
    init(_ date: Date?) { self = date.map { .float($0.timeIntervalSince1970) } ?? .null }
    init(_ text: String?) { self = text.map { .text($0) } ?? .null }
    init(_ flag: Bool) { self = .integer(flag ? 1 : 0) }
    init(_ number: Int) { self = .integer(numericCast(number)) }
    static func bytes(_ bytes: [UInt8]) -> SQLiteData { .blob(ByteBuffer(bytes: bytes)) }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return encoder
    }()

    static func json(_ value: some Encodable) throws -> SQLiteData {
        .text(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}

extension SQLiteError {
    var isConstraintViolation: Bool {
        switch reason {
        case .constraint, .constraintUniqueFailed, .constraintPrimaryKeyFailed: true
        default: false
        }
    }

    /// For errors that mean the database cannot be used right now (not that the request was
    /// wrong), what a client and `/health` are told; nil for every other error.
    var unavailableReason: String? {
        switch reason {
        case .full:
            "The data store cannot write: its disk is full"
        case .readOnly, .readonlyCantLock, .readonlyDirectory:
            "The data store cannot write: its file is read-only"
        case .ioError, .ioErrorFailedWrite, .ioErrorFailedSync, .ioErrorFailedDirSync, .ioErrorFailedTruncate:
            "The data store cannot write: its disk reports an I/O error"
        case .busy, .busyTimeout, .busyInRecovery, .busyInSnapshot, .locked, .cantOpen, .notADatabase,
            .ioErrorFailedRead, .ioErrorIncompleteRead, .ioErrorFailedStat, .ioErrorFailedAccess, .ioErrorNoMemory:
            "The data store is unavailable; try again shortly"
        default:
            nil
        }
    }

    var meansUnavailable: Bool { unavailableReason != nil }
}
