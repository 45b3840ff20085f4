import Domain
import Foundation
import Hummingbird

/// Typed reads of query parameters, each refusing a bad value with a 422 that names it.
extension Request {
    func queryLimit(default fallback: Int = 100, maximum: Int = 500) throws(DomainError) -> Int {
        guard let text = uri.queryParameters.get("limit") else { return fallback }
        guard let limit = Int(text), (1...maximum).contains(limit) else {
            throw .invalid("Query parameter 'limit' must be a whole number from 1 to \(maximum)")
        }
        return limit
    }

    func queryOffset() throws(DomainError) -> Int {
        guard let text = uri.queryParameters.get("offset") else { return 0 }
        guard let offset = Int(text), offset >= 0 else {
            throw .invalid("Query parameter 'offset' must be a whole number of at least 0")
        }
        return offset
    }

    func queryBool(_ name: String) throws(DomainError) -> Bool? {
        guard let text = uri.queryParameters.get(name) else { return nil }
        switch text.lowercased() {
        case "true", "1": return true
        case "false", "0": return false
        default: throw .invalid("Query parameter '\(name)' must be true or false")
        }
    }

    func queryDate(_ name: String) throws(DomainError) -> Date? {
        guard let text = uri.queryParameters.get(name) else { return nil }
        guard let date = Timestamp.parse(text) else {
            throw .invalid("Query parameter '\(name)' must be an ISO-8601 timestamp such as \(Timestamp.example)")
        }
        return date
    }

    func queryText(_ name: String, maximumLength: Int = 200) throws(DomainError) -> String? {
        guard let text = uri.queryParameters.get(name), !text.isEmpty else { return nil }
        guard text.count <= maximumLength else { throw .invalid("Query parameter '\(name)' is too long") }
        return text
    }
}
