import Foundation

public struct Organization: Sendable, Equatable, Codable {
    public var id: String
    /// Unique, compared case-insensitively.
    public var name: String
    /// The e-mail domain whose owners may join by naming this organisation at registration.
    public var domain: String?
    public var createdAt: Date

    public init(id: String, name: String, domain: String?, createdAt: Date) {
        self.id = id
        self.name = name
        self.domain = domain
        self.createdAt = createdAt
    }
}
