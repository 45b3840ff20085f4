/// The life of a workspace session. `active` is the only state that moves; every other state is final.
public enum SessionStatus: String, Sendable, Codable, CaseIterable {
    case active
    /// The user (or an administrator) disconnected it, or it sat idle too long.
    case disconnected
    /// Ended by the system: stop, logout, account disabled, workspace removed.
    case terminated
    /// Its lifetime ran out.
    case expired

    public var isFinal: Bool { self != .active }

    /// Whether a session in this state may move to `next`.
    public func canMove(to next: SessionStatus) -> Bool {
        self == .active && next != .active
    }
}
