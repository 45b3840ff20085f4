import Domain
import Foundation

/// A user as the API shows it: never the password hash.
struct UserView: Encodable, Sendable {
    var id: String
    var email: String
    var name: String
    var organization: String?
    var organizationID: String?
    var role: Role
    var mfaEnabled: Bool
    var disabled: Bool
    var mustChangePassword: Bool
    var createdAt: Date

    init(_ user: User, organization: Organization?) {
        id = user.id
        email = user.email
        name = user.name
        self.organization = organization?.name
        organizationID = user.organizationID
        role = user.role
        mfaEnabled = user.mfaEnabled
        disabled = user.disabled
        mustChangePassword = user.mustChangePassword
        createdAt = user.createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, email, name, organization, role, disabled
        case organizationID = "organization_id"
        case mfaEnabled = "mfa_enabled"
        case mustChangePassword = "must_change_password"
        case createdAt = "created_at"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(email, forKey: .email)
        try container.encode(name, forKey: .name)
        // Explicit nulls: clients can rely on the key being present.
        try container.encode(organization, forKey: .organization)
        try container.encode(organizationID, forKey: .organizationID)
        try container.encode(role, forKey: .role)
        try container.encode(mfaEnabled, forKey: .mfaEnabled)
        try container.encode(disabled, forKey: .disabled)
        try container.encode(mustChangePassword, forKey: .mustChangePassword)
        try container.encode(createdAt, forKey: .createdAt)
    }
}
