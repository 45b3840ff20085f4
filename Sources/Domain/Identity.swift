/// A verified principal with the account behind it, as the token cache keeps it: everything a
/// request needs to know about its caller without another store read.
public struct Identity: Sendable, Equatable {
    public var principal: Principal
    public var user: User
    public var organization: Organization?

    public init(principal: Principal, user: User, organization: Organization?) {
        self.principal = principal
        self.user = user
        self.organization = organization
    }
}
