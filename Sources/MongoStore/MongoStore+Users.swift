import Domain
import Foundation

extension MongoStore: UserStore {
    public func insert(_ user: User, creating organization: Organization?) async throws {
        if let organization {
            try await insert(organization)
        }
        do {
            try await database.insert("users", Self.document(user))
        } catch let failure as MongoFailure where failure.isDuplicateKey {
            // No multi-document transaction here: undo the organisation this registration made.
            if let organization { _ = try? await database.delete("organizations", ["_id": .string(organization.id)]) }
            throw DomainError.conflict(user.ssoSubject == nil ? "Email already registered" : "Account already exists")
        } catch {
            if let organization { _ = try? await database.delete("organizations", ["_id": .string(organization.id)]) }
            throw error
        }
    }

    public func user(id: String) async throws -> User? {
        try await database.findOne("users", ["_id": .string(id)]).map(Self.user)
    }

    public func users(ids: [String]) async throws -> [User] {
        try await database.find("users", withIDsIn: ids).map(Self.user)
    }

    public func user(email: String) async throws -> User? {
        try await database.findOne("users", ["email": .string(email)]).map(Self.user)
    }

    public func user(ssoProvider: String, subject: String) async throws -> User? {
        try await database.findOne("users", ["sso_key": .string(Self.ssoKey(ssoProvider, subject))]).map(Self.user)
    }

    public func users(matching search: String?, limit: Int, offset: Int) async throws -> [User] {
        var filter: BSONDocument = [:]
        if let search, !search.isEmpty {
            let contains: BSON = .document(["$regex": .string(Self.literalPattern(search)), "$options": .string("i")])
            filter["$or"] = .array([.document(["email": contains]), .document(["name": contains])])
        }
        return try await database.find(
            "users", filter, sort: ["created_at": .int(-1), "_id": .int(1)], skip: offset, limit: limit
        ).map(Self.user)
    }

    /// A regular expression that matches `text` literally: every character that is not a letter,
    /// a digit or a space is escaped (PCRE takes `\\` before any of them as the character itself).
    static func literalPattern(_ text: String) -> String {
        var pattern = ""
        for scalar in text.unicodeScalars {
            if !(scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == " ") { pattern.append("\\") }
            pattern.unicodeScalars.append(scalar)
        }
        return pattern
    }

    public func update(_ user: User) async throws {
        var fields = Self.document(user)
        fields["_id"] = nil
        fields["created_at"] = nil
        // The password is `setPassword`'s alone: an update from an older copy cannot restore one.
        fields["password_hash"] = nil
        fields["must_change_password"] = nil
        // Cleared only by a sign-in that proves the address (`updateKeepingAnAdministrator`): an
        // update from an older copy cannot mark it again.
        fields["address_unverified"] = nil
        do {
            let result = try await database.update("users", ["_id": .string(user.id)], ["$set": .document(fields)])
            guard result.matched == 1 else { throw DomainError.notFound("User not found") }
        } catch let failure as MongoFailure where failure.isDuplicateKey {
            throw DomainError.conflict("Another account already has this e-mail address or sign-in")
        }
    }

    /// MongoDB has no multi-document transaction on a single node, so the count and the update
    /// are serialised by a lease on one document in `locks`, which every such update takes
    /// (replicas included): of two concurrent demotions of the last two administrators, the
    /// second counts after the first has written. A writer that dies holding the lease holds it
    /// `lockLease` at most.
    public func updateKeepingAnAdministrator(_ user: User, from before: User) async throws {
        let changed = user.fields(changedFrom: before)
        // Only the fields that changed, so a concurrent change of other fields stands.
        let new = Self.document(user)
        let old = Self.document(before)
        var fields: BSONDocument = ["updated_at": .date(user.updatedAt)]
        var removed: BSONDocument = [:]
        var keys = ["email", "name", "organization_id", "role", "mfa_enabled", "disabled", "address_unverified"].filter {
            new[$0] != old[$0]
        }
        // The sign-in is one thing: written whole, so a concurrent change of only the provider or
        // only the subject cannot leave `sso_key` disagreeing with them.
        let signIn = ["sso_provider", "sso_subject", "sso_key"]
        if signIn.contains(where: { new[$0] != old[$0] }) { keys += signIn }
        for key in keys {
            // Absent, not null: `sso_key`'s unique index is sparse, and would count every null.
            if let value = new[key], value != .null { fields[key] = value } else { removed[key] = .string("") }
        }
        var update: BSONDocument = ["$set": .document(fields)]
        if !removed.fields.isEmpty { update["$unset"] = .document(removed) }
        let write = { () async throws in
            do {
                let result = try await self.database.update("users", ["_id": .string(user.id)], update)
                guard result.matched == 1 else { throw DomainError.notFound("User not found") }
            } catch let failure as MongoFailure where failure.isDuplicateKey {
                throw DomainError.conflict("Another account already has this e-mail address or sign-in")
            }
        }
        // Only a change that may take an active administrator away takes the lease; the stored
        // account is read under it.
        let demotes = (changed.contains(.role) && user.role != .admin) || (changed.contains(.disabled) && user.disabled)
        guard demotes else { return try await write() }
        try await withLock("administrators") {
            guard let stored = try await self.user(id: user.id) else { throw DomainError.notFound("User not found") }
            if stored.role == .admin && !stored.disabled {
                let others = try await database.count(
                    "users",
                    [
                        "role": .string(Role.admin.rawValue), "disabled": .bool(false),
                        "_id": .document(["$ne": .string(user.id)]),
                    ])
                guard others > 0 else { throw DomainError.lastAdministrator }
            }
            try await write()
        }
    }

    public func setPassword(
        userID: String, hash: String?, mustChange: Bool, at now: Date, requireEnabled: Bool, replacing previous: String?
    ) async throws -> Bool {
        var filter: BSONDocument = ["_id": .string(userID)]
        if requireEnabled { filter["disabled"] = .bool(false) }
        if let previous { filter["password_hash"] = .string(previous) }
        let result = try await database.update(
            "users", filter,
            ["$set": .document(["password_hash": .optional(hash), "must_change_password": .bool(mustChange), "updated_at": .date(now)])])
        return result.matched == 1
    }

    static let lockLease: TimeInterval = 30

    /// Runs `body` holding the lease named `name`: taken by a conditional upsert (free, or its
    /// lease over), waited for up to `leaseWait` (5 s, or the store's call timeout if longer: the
    /// holder's calls may each take that long), released after `body` whether it threw or not.
    private func withLock<T: Sendable>(_ name: String, _ body: () async throws -> T) async throws -> T {
        let owner = UUID().uuidString
        let giveUp = Date().addingTimeInterval(ChangeJournal.seconds(leaseWait))
        while true {
            let now = Date()
            do {
                let taken = try await database.update(
                    "locks", ["_id": .string(name), "until": .document(["$lt": .date(now)])],
                    ["$set": .document(["owner": .string(owner), "until": .date(now.addingTimeInterval(Self.lockLease))])],
                    upsert: true)
                if taken.matched == 1 || taken.upserted { break }
            } catch let failure as MongoFailure where failure.isDuplicateKey {
                // Held by another writer: the upsert's insert met its document. A transaction it
                // aborted runs again from its start.
                if database.inTransaction { throw MongoFailure.restart("another change to the administrators holds the lease") }
            }
            guard Date() < giveUp else {
                throw DomainError.unavailable("Another change to the administrators is in progress; try again")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        do {
            let result = try await body()
            _ = try? await database.delete("locks", ["_id": .string(name), "owner": .string(owner)])
            return result
        } catch {
            _ = try? await database.delete("locks", ["_id": .string(name), "owner": .string(owner)])
            throw error
        }
    }

    public func setNetbirdPeer(userID: String, peerID: String?, at now: Date) async throws -> Bool {
        let update: BSONDocument =
            if let peerID {
                ["$set": .document(["netbird_peer_id": .string(peerID), "updated_at": .date(now)])]
            } else {
                ["$unset": .document(["netbird_peer_id": .string("")]), "$set": .document(["updated_at": .date(now)])]
            }
        return try await database.update("users", ["_id": .string(userID)], update).matched == 1
    }

    public func activeUserCounts(organizationID: String?) async throws -> (total: Int, withMFA: Int) {
        // Demo visitors' accounts are not the organisation's people (`UserStore.activeUserCounts`).
        var filter: BSONDocument = ["disabled": .bool(false), "role": .document(["$ne": .string(Role.demoUser.rawValue)])]
        if let organizationID { filter["organization_id"] = .string(organizationID) }
        let total = try await database.count("users", filter)
        filter["mfa_enabled"] = .bool(true)
        return (total, try await database.count("users", filter))
    }

    public func activeAdminCount() async throws -> Int {
        try await database.count("users", ["role": .string(Role.admin.rawValue), "disabled": .bool(false)])
    }

    /// Ids of an organisation's users, for figures the embedded store gets with a join.
    func userIDs(organizationID: String) async throws -> [BSON] {
        try await database.find("users", ["organization_id": .string(organizationID)]).compactMap { $0["_id"] }
    }

    /// Provider and subject as one field, present only on linked accounts, so a sparse unique
    /// index keeps each provider subject to one account.
    static func ssoKey(_ provider: String, _ subject: String) -> String { "\(provider)\u{1F}\(subject)" }

    static func document(_ user: User) -> BSONDocument {
        var document: BSONDocument = [
            "_id": .string(user.id), "email": .string(user.email), "name": .string(user.name),
            "organization_id": .optional(user.organizationID), "role": .string(user.role.rawValue),
            "password_hash": .optional(user.passwordHash), "mfa_enabled": .bool(user.mfaEnabled),
            "disabled": .bool(user.disabled), "created_at": .date(user.createdAt), "updated_at": .date(user.updatedAt),
            "sso_provider": .optional(user.ssoProvider), "sso_subject": .optional(user.ssoSubject),
            "must_change_password": .bool(user.mustChangePassword), "self_registered": .bool(user.selfRegistered),
            "address_unverified": .bool(user.addressUnverified),
        ]
        if let provider = user.ssoProvider, let subject = user.ssoSubject {
            document["sso_key"] = .string(ssoKey(provider, subject))
        }
        return document
    }

    static func user(_ document: BSONDocument) throws -> User {
        guard let role = Role(rawValue: try document.string("role")) else { throw CorruptDocument(field: "role") }
        return User(
            id: try document.string("_id"), email: try document.string("email"), name: try document.string("name"),
            organizationID: document.optionalString("organization_id"), role: role,
            passwordHash: document.optionalString("password_hash"), mfaEnabled: try document.bool("mfa_enabled"),
            ssoProvider: document.optionalString("sso_provider"), ssoSubject: document.optionalString("sso_subject"),
            disabled: try document.bool("disabled"),
            // Absent on accounts stored before password resets existed.
            mustChangePassword: document["must_change_password"]?.bool ?? false,
            // Marked on every account when the store opens (`markSelfRegisteredAccounts`).
            selfRegistered: document["self_registered"]?.bool ?? false,
            // Absent on accounts stored before it existed: none of them is marked.
            addressUnverified: document["address_unverified"]?.bool ?? false,
            netbirdPeerID: document.optionalString("netbird_peer_id"), createdAt: try document.date("created_at"),
            updatedAt: try document.date("updated_at"))
    }
}

extension MongoStore: OrganizationStore {
    public func insert(_ organization: Organization) async throws {
        do {
            try await database.insert(
                "organizations",
                [
                    "_id": .string(organization.id), "name": .string(organization.name),
                    "name_key": .string(Organization.nameKey(organization.name)), "domain": .optional(organization.domain),
                    "created_at": .date(organization.createdAt),
                ])
        } catch let failure as MongoFailure where failure.isDuplicateKey {
            throw DomainError.conflict("An organization with this name already exists")
        }
    }

    public func organization(id: String) async throws -> Organization? {
        try await database.findOne("organizations", ["_id": .string(id)]).map(Self.organization)
    }

    public func organizations(ids: [String]) async throws -> [Organization] {
        try await database.find("organizations", withIDsIn: ids).map(Self.organization)
    }

    public func organization(named name: String) async throws -> Organization? {
        try await database.findOne("organizations", ["name_key": .string(Organization.nameKey(name))]).map(Self.organization)
    }

    public func organizations() async throws -> [Organization] {
        try await database.find("organizations", [:], sort: ["name_key": .int(1)]).map(Self.organization)
    }

    static func organization(_ document: BSONDocument) throws -> Organization {
        Organization(
            id: try document.string("_id"), name: try document.string("name"), domain: document.optionalString("domain"),
            createdAt: try document.date("created_at"))
    }
}
