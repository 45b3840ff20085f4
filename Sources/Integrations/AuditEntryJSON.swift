import Foundation

/// Audit entries as the forwarding targets receive them: the API's JSON (snake_case keys,
/// ISO-8601 times, the chain fields), keys sorted so that equal entries are equal bytes.
enum AuditEntryJSON {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}
