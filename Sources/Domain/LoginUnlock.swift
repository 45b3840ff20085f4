import Foundation

/// An administrator's unlock of an account held back after failed sign-ins. Failed-login counts
/// live in each server process's memory; the unlock is kept in the store so that every process,
/// and the command line (`neosc admin unlock`), reaches them all.
public struct LoginUnlock: Sendable, Equatable {
    public var id: String
    /// The account's e-mail, as the throttles key it.
    public var email: String
    public var at: Date

    public init(id: String = Identifier.make("unl"), email: String, at: Date) {
        self.id = id
        self.email = email
        self.at = at
    }
}
