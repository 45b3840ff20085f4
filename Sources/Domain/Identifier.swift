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
}
