import Domain
import Foundation

/// The one place audit entries are written, for every surface (API, CLI, the deadline service):
/// who acted (`AuditActor`), from where, on what, with what outcome.
public struct AuditTrail: Sendable {
    private let store: any AuditStore
    private let clock: WallClock

    public init(store: any AuditStore, clock: WallClock) {
        self.store = store
        self.clock = clock
    }

    /// Appends one entry. A failure fails the caller: a change that cannot be recorded is not
    /// reported as done.
    /// - Parameter address: the client address of an API call; nil for the CLI and NeoSC itself.
    public func record(
        _ action: AuditAction, by actor: AuditActor, from address: String? = nil, success: Bool = true,
        resource: (type: String, id: String)? = nil, details: [String: String] = [:]
    ) async throws {
        var details = details
        switch actor {
        case .operator(let via): details["source"] = via
        case .system: details["by"] = details["by"] ?? "system"
        case .principal, .account, .anonymous: break
        }
        try await store.append(
            AuditEvent(
                timestamp: clock.now(), userID: actor.userID, userEmail: actor.email, action: action,
                resourceType: resource?.type, resourceID: resource?.id, details: details, ipAddress: address,
                success: success))
    }

    /// Refuses non-administrators (403), recording the refusal as `access_denied` with the
    /// request's path.
    public func requireAdmin(_ principal: Principal, to action: String, from address: String?, path: String?) async throws {
        do {
            try AccessRules.requireAdmin(principal, to: action)
        } catch {
            try await record(
                .accessDenied, by: .principal(principal), from: address, success: false,
                details: ["reason": error.detail, "path": path ?? ""])
            throw error
        }
    }
}
