import Domain
import Foundation
import Net

/// Administrator accounts made outside the HTTP API: on first boot from the environment, or with
/// `neosc admin create`. Each is audited with the source that made it.
struct AdminAccounts {
    let store: any Store
    let passwords: PasswordHasher

    enum Outcome { case created(User), alreadyExists(User) }

    /// Creates an admin with `email` unless an account with that address exists.
    func create(email rawEmail: String, password: Secret, name: String?, source: String) async throws -> Outcome {
        let email = try Validation.normalisedEmail(rawEmail)
        try Validation.requireValidPassword(password.value)
        if let existing = try await store.user(email: email) {
            return .alreadyExists(existing)
        }
        let now = Date()
        let admin = User(
            id: Identifier.make("usr"), email: email,
            name: try Validation.text(name ?? "Administrator", field: "name"), organizationID: nil, role: .admin,
            passwordHash: try await passwords.hash(password.value), createdAt: now, updatedAt: now)
        do {
            try await store.insert(admin, creating: nil)
        } catch DomainError.conflict {
            // Another replica bootstrapping the same administrator got there first.
            guard let existing = try await store.user(email: email) else { throw DomainError.conflict("Email already registered") }
            return .alreadyExists(existing)
        }
        try await store.append(
            AuditEvent(
                timestamp: now, userID: admin.id, userEmail: admin.email, action: .createAdmin,
                resourceType: "user", resourceID: admin.id, details: ["source": source], ipAddress: source,
                success: true))
        return .created(admin)
    }

    /// Changes a user's role, refusing to remove the last active administrator.
    func setRole(email rawEmail: String, role: Role, source: String) async throws -> User {
        let email = try Validation.normalisedEmail(rawEmail)
        guard var user = try await store.user(email: email) else {
            throw DomainError.notFound("No account with e-mail \(email)")
        }
        try AccessRules.requireAdminRemains(
            changing: user, toRole: role, disabled: user.disabled, activeAdmins: try await store.activeAdminCount())
        let before = user.role
        user.role = role
        user.updatedAt = Date()
        try await store.update(user)
        try await store.append(
            AuditEvent(
                timestamp: user.updatedAt, userID: nil, userEmail: nil, action: .updateUser, resourceType: "user",
                resourceID: user.id, details: ["role": "\(before.rawValue)->\(role.rawValue)", "source": source],
                ipAddress: source, success: true))
        return user
    }
}
