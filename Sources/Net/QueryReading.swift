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
        let formatter = ISO8601DateFormatter()
        if Self.namesARealMoment(text) {
            if let date = formatter.date(from: text) { return date }
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            if let date = formatter.date(from: text) { return date }
        }
        throw .invalid("Query parameter '\(name)' must be an ISO-8601 timestamp such as 2026-01-31T12:00:00Z")
    }

    /// Whether the calendar fields `text` starts with (`YYYY-MM-DDTHH:MM:SS`) name a moment that
    /// exists: `ISO8601DateFormatter` takes 2026-02-31 for 3 March, and 24:00 for the next day.
    static func namesARealMoment(_ text: String) -> Bool {
        let bytes = Array(text.utf8.prefix(19))
        guard bytes.count == 19 else { return false }
        func number(_ range: Range<Int>) -> Int? {
            bytes[range].allSatisfy { (0x30...0x39).contains($0) } ? bytes[range].reduce(0) { $0 * 10 + Int($1 - 0x30) } : nil
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
            let minute = number(14..<16), let second = number(17..<19), (1...12).contains(month)
        else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return (1...days).contains(day) && hour < 24 && minute < 60 && second < 60
    }

    func queryText(_ name: String, maximumLength: Int = 200) throws(DomainError) -> String? {
        guard let text = uri.queryParameters.get(name), !text.isEmpty else { return nil }
        guard text.count <= maximumLength else { throw .invalid("Query parameter '\(name)' is too long") }
        return text
    }
}
