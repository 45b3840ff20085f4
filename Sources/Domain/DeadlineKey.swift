/// What an armed deadline is for; one key is armed at most once (re-arming moves it).
public enum DeadlineKey: Sendable, Hashable, CustomStringConvertible {
    /// A demo session's expiry.
    case demoExpiry(demoID: String)
    /// A workspace session's maximum duration (`max_session_minutes`).
    case sessionLifetime(sessionID: String)
    /// A workspace session's idle deadline (`last_seen_at` + `NEOSC_IDLE_TIMEOUT`).
    case sessionIdle(sessionID: String)

    public var description: String {
        switch self {
        case .demoExpiry(let id): "demo:\(id)"
        case .sessionLifetime(let id): "lifetime:\(id)"
        case .sessionIdle(let id): "idle:\(id)"
        }
    }
}
