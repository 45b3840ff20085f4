import CMongoC
import Domain

/// An error the MongoDB C driver reported, kept with its domain and code so callers can tell a
/// duplicate key (a conflict) from an unreachable server (503).
struct MongoFailure: Error, CustomStringConvertible {
    var domain: UInt32
    var code: UInt32
    var message: String
    /// The server's reply labels it `TransientTransactionError`: the transaction it belonged to
    /// failed as a whole and may be run again from its start.
    var transient = false

    /// - Parameter reply: the server's reply, when the call returned one; read for its labels.
    init(_ error: bson_error_t, reply: OpaquePointer? = nil) {
        domain = error.domain
        code = error.code
        var copy = error
        message = withUnsafeBytes(of: &copy.message) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        if let reply { transient = mongoc_error_has_label(reply, "TransientTransactionError") }
    }

    /// A transaction to run again from its start: a statement met another writer's change
    /// (`reason`), and in a transaction a failed statement has aborted it.
    static func restart(_ reason: String) -> MongoFailure {
        var failure = MongoFailure(bson_error_t())
        failure.code = 112
        failure.message = reason
        failure.transient = true
        return failure
    }

    var description: String { "MongoDB error \(domain).\(code): \(message)" }

    var isDuplicateKey: Bool { code == 11_000 || code == 11_001 }
    /// `IndexNotFound`: dropping an index that does not exist.
    var isIndexNotFound: Bool { code == 27 }

    /// Worth running the whole transaction again: labelled transient, or a write conflict (112)
    /// or a transaction the server no longer knows (251) whose reply carried no label.
    var restartsTransaction: Bool { transient || code == 112 || code == 251 }

    /// The database could not be reached, did not answer in time, or cannot take writes now.
    var meansUnavailable: Bool { unavailableReason != nil }

    /// What a client and `/health` are told when the database cannot be used right now; nil
    /// when the error is about the request.
    var unavailableReason: String? {
        switch code {
        case 14_031:  // OutOfDiskSpace
            return "The data store cannot write: its disk is full"
        case 10_107, 13_435, 189, 11_602:  // not the primary, stepped down
            return "The data store cannot write: no primary is available"
        case 91, 11_600:  // shutting down
            return "The data store is unavailable; try again shortly"
        default:
            break
        }
        if domain == MONGOC_ERROR_STREAM.rawValue || domain == MONGOC_ERROR_SERVER_SELECTION.rawValue
            || (domain == MONGOC_ERROR_CLIENT.rawValue && code == MONGOC_ERROR_CLIENT_AUTHENTICATE.rawValue)
        {
            return "The data store is unavailable; try again shortly"
        }
        return nil
    }

    /// What routes should see: 503 for an unreachable database, the failure itself otherwise.
    var translated: any Error {
        unavailableReason.map { DomainError.unavailable($0) } ?? self
    }
}
