/// A verified principal with the account behind it, as the token cache keeps it: everything a
/// request needs to know about its caller without another store read.
///
/// A class, and immutable: it is handed from the token cache into every request's context, and
/// the contexts are copied from one middleware to the next. As a struct each copy retained each of
/// its two dozen strings and sets; as a reference, a copy is one retain.
public final class Identity: Sendable, Equatable {
    public let principal: Principal
    public let user: User
    public let organization: Organization?

    public init(principal: Principal, user: User, organization: Organization?) {
        self.principal = principal
        self.user = user
        self.organization = organization
    }

    public static func == (lhs: Identity, rhs: Identity) -> Bool {
        lhs === rhs || (lhs.principal == rhs.principal && lhs.user == rhs.user && lhs.organization == rhs.organization)
    }
}
