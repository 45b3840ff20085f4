import Domain
import Foundation
import SQLiteNIO

extension SQLiteStore: UserStore {
    public func insert(_ user: User, creating organization: Organization?) async throws {
        try await write { connection in
            if let organization {
                try await Self.insert(organization, on: connection)
            }
            do {
                try await connection.execute(
                    """
                    INSERT INTO users (id, email, name, organization_id, role, password_hash, mfa_enabled, disabled,
                        created_at, updated_at, sso_provider, sso_subject, must_change_password, self_registered,
                        address_unverified)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        .text(user.id), .text(user.email), .text(user.name), .init(user.organizationID),
                        .text(user.role.rawValue), .init(user.passwordHash), .init(user.mfaEnabled),
                        .init(user.disabled), .init(user.createdAt), .init(user.updatedAt), .init(user.ssoProvider),
                        .init(user.ssoSubject), .init(user.mustChangePassword), .init(user.selfRegistered),
                        .init(user.addressUnverified),
                    ])
            } catch let error as SQLiteError where error.isConstraintViolation {
                throw DomainError.conflict(user.ssoSubject == nil ? "Email already registered" : "Account already exists")
            }
        }
    }

    public func user(id: String) async throws -> User? {
        try await read { try await $0.rows("SELECT * FROM users WHERE id = ?", [.text(id)]).first.map(Self.user) }
    }

    public func users(ids: [String]) async throws -> [User] {
        guard !ids.isEmpty else { return [] }
        return try await read { try await $0.rows(of: "users", where: "id", isIn: ids).map(Self.user) }
    }

    public func user(email: String) async throws -> User? {
        try await read {
            try await $0.rows("SELECT * FROM users WHERE email = ?", [.text(email)]).first.map(Self.user)
        }
    }

    public func user(ssoProvider: String, subject: String) async throws -> User? {
        try await read {
            try await $0.rows(
                "SELECT * FROM users WHERE sso_provider = ? AND sso_subject = ?", [.text(ssoProvider), .text(subject)]
            ).first.map(Self.user)
        }
    }

    public func users(matching search: String?, limit: Int, offset: Int) async throws -> [User] {
        guard let search, !search.isEmpty else {
            return try await read {
                try await $0.rows(
                    "SELECT * FROM users ORDER BY created_at DESC, id" + limitClause(limit, offset: offset)
                ).map(Self.user)
            }
        }
        // The text is matched literally: `%`, `_` and the escape character itself are escaped.
        // Scalar by scalar: SQLite compares code points, so a `%` under a combining mark is still
        // a wildcard.
        var pattern = String.UnicodeScalarView()
        pattern.append("%")
        for scalar in search.lowercased().unicodeScalars {
            if scalar == "%" || scalar == "_" || scalar == "\\" { pattern.append("\\") }
            pattern.append(scalar)
        }
        pattern.append("%")
        return try await read {
            try await $0.rows(
                "SELECT * FROM users WHERE email LIKE ?1 ESCAPE '\\' OR neosc_lower(name) LIKE ?1 ESCAPE '\\'"
                    + " ORDER BY created_at DESC, id" + limitClause(limit, offset: offset),
                [.text(String(pattern))]
            ).map(Self.user)
        }
    }

    public func update(_ user: User) async throws {
        try await write { try await Self.update(user, on: $0) }
    }

    public func updateKeepingAnAdministrator(_ user: User, from before: User) async throws {
        let changed = user.fields(changedFrom: before)
        // One write transaction: SQLite's single writer serialises the read, the count and the update.
        try await write { connection in
            guard let stored = try await connection.rows("SELECT role, disabled FROM users WHERE id = ?", [.text(user.id)]).first
            else { throw DomainError.notFound("User not found") }
            let storedRole = try stored.string("role")
            let storedDisabled = try stored.bool("disabled")
            let role = changed.contains(.role) ? user.role.rawValue : storedRole
            let disabled = changed.contains(.disabled) ? user.disabled : storedDisabled
            if storedRole == Role.admin.rawValue && !storedDisabled && (role != Role.admin.rawValue || disabled) {
                let others =
                    try await connection.rows(
                        "SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled = 0 AND id != ?", [.text(user.id)]
                    ).first?.int("n") ?? 0
                guard others > 0 else { throw DomainError.lastAdministrator }
            }
            var assignments = ["updated_at = ?"]
            var values: [SQLiteData] = [.init(user.updatedAt)]
            for field in User.Field.allCases where changed.contains(field) {
                let (column, value) = Self.column(field, of: user)
                assignments.append("\(column) = ?")
                values.append(value)
            }
            do {
                try await connection.execute(
                    "UPDATE users SET \(assignments.joined(separator: ", ")) WHERE id = ?", values + [.text(user.id)])
            } catch let error as SQLiteError where error.isConstraintViolation {
                throw DomainError.conflict("Another account already has this e-mail address or sign-in")
            }
        }
    }

    private static func column(_ field: User.Field, of user: User) -> (String, SQLiteData) {
        switch field {
        case .email: ("email", .text(user.email))
        case .name: ("name", .text(user.name))
        case .organizationID: ("organization_id", .init(user.organizationID))
        case .role: ("role", .text(user.role.rawValue))
        case .mfaEnabled: ("mfa_enabled", .init(user.mfaEnabled))
        case .disabled: ("disabled", .init(user.disabled))
        case .ssoProvider: ("sso_provider", .init(user.ssoProvider))
        case .ssoSubject: ("sso_subject", .init(user.ssoSubject))
        case .addressUnverified: ("address_unverified", .init(user.addressUnverified))
        }
    }

    public func setPassword(
        userID: String, hash: String?, mustChange: Bool, at now: Date, requireEnabled: Bool, replacing previous: String?
    ) async throws -> Bool {
        try await write { connection in
            try await connection.changedRows(
                """
                UPDATE users SET password_hash = ?, must_change_password = ?, updated_at = ?
                WHERE id = ? AND (? = 0 OR disabled = 0) AND (? IS NULL OR password_hash = ?) RETURNING 1
                """,
                [
                    .init(hash), .init(mustChange), .init(now), .text(userID), .init(requireEnabled), .init(previous),
                    .init(previous),
                ]) == 1
        }
    }

    private static func update(_ user: User, on connection: SQLiteConnection) async throws {
        let changed: Int
        do {
            changed = try await connection.changedRows(
                """
                UPDATE users SET email = ?, name = ?, organization_id = ?, role = ?,
                    mfa_enabled = ?, disabled = ?, updated_at = ?, sso_provider = ?, sso_subject = ?
                WHERE id = ? RETURNING 1
                """,
                [
                    .text(user.email), .text(user.name), .init(user.organizationID), .text(user.role.rawValue),
                    .init(user.mfaEnabled), .init(user.disabled), .init(user.updatedAt),
                    .init(user.ssoProvider), .init(user.ssoSubject), .text(user.id),
                ])
        } catch let error as SQLiteError where error.isConstraintViolation {
            throw DomainError.conflict("Another account already has this e-mail address or sign-in")
        }
        guard changed == 1 else { throw DomainError.notFound("User not found") }
    }

    public func setNetbirdPeer(userID: String, peerID: String?, at now: Date) async throws -> Bool {
        try await write { connection in
            try await connection.changedRows(
                "UPDATE users SET netbird_peer_id = ?, updated_at = ? WHERE id = ? RETURNING 1",
                [.init(peerID), .init(now), .text(userID)]) == 1
        }
    }

    public func activeUserCounts(organizationID: String?) async throws -> (total: Int, withMFA: Int) {
        // The tally the triggers of `users` keep (Schema, migration 16), read as the overview reads it.
        let read = try await overview(OverviewQuery(users: organizationID.map { .organization($0) } ?? .everyone))
        return (read.activeUsers, read.activeUsersWithMFA)
    }

    public func activeAdminCount() async throws -> Int {
        try await read {
            try await $0.rows("SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled = 0").first?.int("n")
                ?? 0
        }
    }

    static func user(_ row: SQLiteRow) throws -> User {
        guard let role = Role(rawValue: try row.string("role")) else { throw CorruptRow(column: "role") }
        return User(
            id: try row.string("id"), email: try row.string("email"), name: try row.string("name"),
            organizationID: row.optionalString("organization_id"), role: role,
            passwordHash: row.optionalString("password_hash"), mfaEnabled: try row.bool("mfa_enabled"),
            ssoProvider: row.optionalString("sso_provider"), ssoSubject: row.optionalString("sso_subject"),
            disabled: try row.bool("disabled"), mustChangePassword: try row.bool("must_change_password"),
            selfRegistered: try row.bool("self_registered"), addressUnverified: try row.bool("address_unverified"),
            netbirdPeerID: row.optionalString("netbird_peer_id"), createdAt: try row.date("created_at"),
            updatedAt: try row.date("updated_at"))
    }
}
