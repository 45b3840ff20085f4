import Foundation

public struct Organization: Sendable, Equatable, Codable {
    public var id: String
    /// Unique, compared case-insensitively.
    public var name: String
    /// The e-mail domain whose owners may join by naming this organisation at registration.
    public var domain: String?
    public var createdAt: Date

    /// What makes two names the same organisation: case, zero-width joiners and variation
    /// selectors do not count (`Café` and `Café<U+FE00>` look the same).
    public static func nameKey(_ name: String) -> String {
        String(
            String.UnicodeScalarView(
                name.lowercased().unicodeScalars.filter { !Validation.joiners.contains($0) && !$0.properties.isVariationSelector }))
    }

    public init(id: String, name: String, domain: String?, createdAt: Date) {
        self.id = id
        self.name = name
        self.domain = domain
        self.createdAt = createdAt
    }
}
