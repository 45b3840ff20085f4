import Foundation

/// Which organisation an account that registers itself joins when it names one. Naming a new
/// organisation founds it, owned by the registrant's e-mail domain; joining an existing one
/// needs an address at that domain, otherwise anyone could read another organisation's figures
/// by naming it.
public enum OrganizationMembership {
    public enum Decision: Sendable, Equatable {
        case join(Organization)
        /// The organisation to create with the account.
        case found(Organization)
    }

    /// - Parameters:
    ///   - name: the organisation the registrant named (validated).
    ///   - email: the registrant's normalised e-mail address.
    ///   - existing: the organisation already called `name`, if any.
    public static func decide(
        name: String, email: String, existing: Organization?, newID: String, at now: Date
    ) throws(DomainError) -> Decision {
        let emailDomain = email.split(separator: "@").last.map(String.init)
        if let existing {
            guard let domain = existing.domain, domain == emailDomain else {
                throw .conflict("Organization '\(existing.name)' already exists; ask its administrator to add you")
            }
            return .join(existing)
        }
        return .found(Organization(id: newID, name: name, domain: emailDomain, createdAt: now))
    }
}
