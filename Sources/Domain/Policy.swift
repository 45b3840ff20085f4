import Foundation

/// A security policy an administrator switches on or off.
public struct Policy: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    public var description: String
    public var category: String
    public var enabled: Bool
    /// How much this policy weighs in the security score when enabled (see `SecurityScore`).
    public var weight: Int
    public var updatedAt: Date

    public init(
        id: String, name: String, description: String, category: String, enabled: Bool, weight: Int,
        updatedAt: Date
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.category = category
        self.enabled = enabled
        self.weight = weight
        self.updatedAt = updatedAt
    }
}
