import Foundation

/// Which organisation an account that registers itself belongs to when it names one. Naming a
/// new organisation founds it, owned by the registrant's e-mail domain. An existing one is never
/// joined this way: nothing proves that a registrant owns the address they give (NeoSC sends no
/// mail), so an address at the organisation's domain would let anyone in to read its figures.
/// Administrators add its members (`PATCH /api/users/{id}` with `organization_id`).
public enum OrganizationMembership {
    /// The organisation an administrator puts an account in (`UserAdministration.change`).
    public enum Assignment: Sendable, Equatable {
        case member(of: String)
        /// In no organisation (`organization_id: null`).
        case noOrganization
    }

    /// The organisation to found with the account.
    /// - Parameters:
    ///   - name: the organisation the registrant named (validated).
    ///   - email: the registrant's normalised e-mail address, whose domain owns the organisation.
    ///   - existing: the organisation already called `name`, if any: a conflict.
    public static func founding(
        name: String, email: String, existing: Organization?, newID: String, at now: Date
    ) throws(DomainError) -> Organization {
        if let existing {
            throw .conflict("Organization '\(existing.name)' already exists; ask an administrator to add you to it")
        }
        return Organization(id: newID, name: name, domain: email.split(separator: "@").last.map(String.init), createdAt: now)
    }
}
