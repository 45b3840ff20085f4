import Domain
import Foundation

/// Organisations: administrators see and create every one; anyone else sees their own.
public struct Organizations: Sendable {
    private let store: any OrganizationStore
    private let audit: AuditTrail
    private let clock: WallClock

    public init(store: any OrganizationStore, audit: AuditTrail, clock: WallClock) {
        self.store = store
        self.audit = audit
        self.clock = clock
    }

    /// Every organisation for an administrator; the caller's own (or none) for anyone else.
    public func visible(to principal: Principal) async throws -> [Organization] {
        if principal.isAdmin { return try await store.organizations() }
        guard let id = principal.organizationID, let own = try await store.organization(id: id) else { return [] }
        return [own]
    }

    /// A new organisation named `name`, optionally tied to an e-mail `domain` (both validated).
    public func create(name: String, domain: String?, by actor: AuditActor, from address: String?) async throws -> Organization {
        let organization = Organization(
            id: Identifier.make("org"), name: try Validation.line(name, field: "name"),
            domain: try domain.map { raw throws(DomainError) in try Validation.domain(raw) }, createdAt: clock.now())
        try await audit.change {
            try await store.insert(organization)
            try await audit.record(
                .createOrganization, by: actor, from: address, resource: ("organization", organization.id),
                details: ["name": organization.name])
        }
        return organization
    }
}
