import Domain
import Foundation
import Hummingbird

/// Typed reads of query parameters, each refusing a bad value with a 422 that names it, and a
/// parameter given more than once (`limit=1&limit=abc`): which one counts would be a guess, and
/// a check of the first would let the second by unread.
extension Request {
    /// The one value of query parameter `name`; nil when it is absent.
    func queryValue(_ name: String) throws(DomainError) -> String? {
        let values = uri.queryParameters.getAll(name)
        guard values.count <= 1 else { throw .invalid("Query parameter '\(name)' is given more than once") }
        return values.first
    }

    /// A whole number as digits alone (no sign, no spaces), or nil.
    private static func wholeNumber(_ text: String) -> Int? {
        guard !text.isEmpty, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        return Int(text)
    }

    func queryLimit(default fallback: Int = 100, maximum: Int = 500) throws(DomainError) -> Int {
        guard let text = try queryValue("limit") else { return fallback }
        guard let limit = Self.wholeNumber(text), (1...maximum).contains(limit) else {
            throw .invalid("Query parameter 'limit' must be a whole number from 1 to \(maximum)")
        }
        return limit
    }

    func queryOffset() throws(DomainError) -> Int {
        guard let text = try queryValue("offset") else { return 0 }
        guard let offset = Self.wholeNumber(text) else {
            throw .invalid("Query parameter 'offset' must be a whole number of at least 0")
        }
        return offset
    }

    func queryBool(_ name: String) throws(DomainError) -> Bool? {
        guard let text = try queryValue(name) else { return nil }
        switch text.lowercased() {
        case "true", "1": return true
        case "false", "0": return false
        default: throw .invalid("Query parameter '\(name)' must be true or false")
        }
    }

    func queryDate(_ name: String) throws(DomainError) -> Date? {
        guard let text = try queryValue(name) else { return nil }
        guard let date = Timestamp.parse(text) else {
            throw .invalid("Query parameter '\(name)' must be an ISO-8601 timestamp such as \(Timestamp.example)")
        }
        return date
    }

    func queryText(_ name: String, maximumLength: Int = 200) throws(DomainError) -> String? {
        guard let text = try queryValue(name), !text.isEmpty else { return nil }
        guard text.count <= maximumLength else { throw .invalid("Query parameter '\(name)' is too long") }
        return text
    }

    /// A query parameter that names a record by its id.
    func queryID(_ name: String) throws(DomainError) -> String? {
        guard let text = try queryText(name) else { return nil }
        guard Identifier.isWellFormed(text) else {
            throw .invalid("Query parameter '\(name)' must be an id: letters, digits, - and _")
        }
        return text
    }
}
