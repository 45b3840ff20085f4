import Domain
import Foundation
import SQLiteNIO

extension SQLiteStore: OrganizationStore {
    public func insert(_ organization: Organization) async throws {
        try await write { try await Self.insert(organization, on: $0) }
    }

    public func organization(id: String) async throws -> Organization? {
        try await read {
            try await $0.rows("SELECT * FROM organizations WHERE id = ?", [.text(id)]).first.map(Self.organization)
        }
    }

    public func organizations(ids: [String]) async throws -> [Organization] {
        guard !ids.isEmpty else { return [] }
        return try await read { try await $0.rows(of: "organizations", where: "id", isIn: ids).map(Self.organization) }
    }

    public func organization(named name: String) async throws -> Organization? {
        try await read {
            try await $0.rows("SELECT * FROM organizations WHERE name_key = ?", [.text(Organization.nameKey(name))])
                .first.map(Self.organization)
        }
    }

    public func organizations() async throws -> [Organization] {
        try await read { try await $0.rows("SELECT * FROM organizations ORDER BY name_key").map(Self.organization) }
    }

    static func insert(_ organization: Organization, on connection: SQLiteConnection) async throws {
        do {
            try await connection.execute(
                "INSERT INTO organizations (id, name, name_key, domain, created_at) VALUES (?, ?, ?, ?, ?)",
                [
                    .text(organization.id), .text(organization.name), .text(Organization.nameKey(organization.name)),
                    .init(organization.domain), .init(organization.createdAt),
                ])
        } catch let error as SQLiteError where error.isConstraintViolation {
            throw DomainError.conflict("An organization with this name already exists")
        }
    }

    static func organization(_ row: SQLiteRow) throws -> Organization {
        Organization(
            id: try row.string("id"), name: try row.string("name"), domain: row.optionalString("domain"),
            createdAt: try row.date("created_at"))
    }
}
