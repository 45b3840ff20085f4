import CMongoC
import Domain

/// An error the MongoDB C driver reported, kept with its domain and code so callers can tell a
/// duplicate key (a conflict) from an unreachable server (503).
struct MongoFailure: Error, CustomStringConvertible {
    var domain: UInt32
    var code: UInt32
    var message: String

    init(_ error: bson_error_t) {
        domain = error.domain
        code = error.code
        var copy = error
        message = withUnsafeBytes(of: &copy.message) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
    }

    var description: String { "MongoDB error \(domain).\(code): \(message)" }

    var isDuplicateKey: Bool { code == 11_000 || code == 11_001 }

    /// The database could not be reached or did not answer in time.
    var meansUnavailable: Bool {
        domain == MONGOC_ERROR_STREAM.rawValue || domain == MONGOC_ERROR_SERVER_SELECTION.rawValue
            || (domain == MONGOC_ERROR_CLIENT.rawValue && code == MONGOC_ERROR_CLIENT_AUTHENTICATE.rawValue)
            || code == 91 || code == 189 || code == 11_600 || code == 11_602  // shutting down, stepped down
    }

    /// What routes should see: 503 for an unreachable database, the failure itself otherwise.
    var translated: any Error {
        meansUnavailable ? DomainError.unavailable("The data store is unavailable; try again shortly") : self
    }
}
