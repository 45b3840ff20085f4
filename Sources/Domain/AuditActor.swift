import Foundation

/// Who did what an audit entry records.
public enum AuditActor: Sendable {
    /// A signed-in caller.
    case principal(Principal)
    /// An account acting while it is being signed in or created, before it holds a credential.
    case account(User)
    /// A caller not (yet) identified: a failed or throttled sign-in, with the e-mail it claimed.
    case anonymous(claimedEmail: String?)
    /// NeoSC itself (a deadline passing, a demo's clean-up), acting on the account it names, whose
    /// trail the entry joins.
    case system(onAccount: String?, email: String?)
    /// An operator outside the API: `neosc admin …` at the command line (`cli`), or the
    /// administrator created from the environment at first start (`bootstrap`).
    case `operator`(via: String)

    /// The account the entry is about as its actor, if there is one.
    public var userID: String? {
        switch self {
        case .principal(let principal): principal.userID
        case .account(let user): user.id
        case .system(let account, _): account
        case .anonymous, .operator: nil
        }
    }

    /// The e-mail the entry records as its actor's (for an anonymous caller, the one it claimed).
    public var email: String? {
        switch self {
        case .principal(let principal): principal.email
        case .account(let user): user.email
        case .anonymous(let claimed): claimed
        case .system(_, let email): email
        case .operator: nil
        }
    }
}
