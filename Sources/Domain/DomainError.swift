/// Every refusal the domain can give, each carrying the text the caller sees.
/// The HTTP layer maps the cases to status codes; none of them is ever a 500.
public enum DomainError: Error, Sendable, Equatable {
    /// The request could not be understood (malformed JSON, unreadable body).
    case malformed(String)
    /// Who are you? Missing, invalid, expired or revoked credentials.
    case unauthenticated(String)
    /// Known caller, not allowed.
    case forbidden(String)
    case notFound(String)
    /// The resource's state does not allow this now (duplicate, not active, limit reached).
    case conflict(String)
    /// A field has a value outside what it accepts.
    case invalid(String)
    /// Slow down; retry after the given number of seconds.
    case rateLimited(String, retryAfterSeconds: Int)
    /// A dependency (the store) is not available.
    case unavailable(String)

    public var detail: String {
        switch self {
        case .malformed(let d), .unauthenticated(let d), .forbidden(let d), .notFound(let d),
            .conflict(let d), .invalid(let d), .unavailable(let d):
            d
        case .rateLimited(let d, _):
            d
        }
    }

    /// The one text used for every failed password login, so responses don't tell which part was wrong.
    public static let invalidCredentials = DomainError.unauthenticated("Invalid credentials")
    /// A change that would leave no active administrator.
    public static let lastAdministrator = DomainError.conflict("This is the last active administrator; promote another first")

    /// The refusal of a launch past the per-user limit, whichever store noticed it.
    public static func sessionLimitReached(_ limit: Int) -> DomainError {
        .conflict("Concurrent session limit reached (\(limit)); stop a session first")
    }
}
