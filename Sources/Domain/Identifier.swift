import Foundation

/// Identifiers for new records: a short type prefix and a random UUID, e.g. `usr-5F0C…`.
public enum Identifier {
    public static func make(_ prefix: String) -> String {
        "\(prefix)-\(UUID().uuidString.lowercased())"
    }

    /// Ids that callers may choose (workspaces): lower-case letters, digits and dashes, 1–64 long.
    public static func isValidSlug(_ value: String) -> Bool {
        !value.isEmpty && value.count <= 64
            && value.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
            && value.first != "-"
    }

    /// Whether `value` can be a record's id as a query names one (`before`, `user_id`): 1 to 100
    /// ASCII letters, digits, `-` and `_`. Ids are made of these (`make`, slugs, the seeded ones).
    public static func isWellFormed(_ value: String) -> Bool {
        (1...100).contains(value.utf8.count)
            && value.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_") }
    }
}
