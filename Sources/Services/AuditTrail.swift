import Actors
import Domain
import Foundation

/// The one place audit entries are written, for every surface (API, CLI, the deadline service):
/// who acted (`AuditActor`), from where, on what, with what outcome.
public struct AuditTrail: Sendable {
    private let store: any AuditStore
    private let clock: WallClock
    /// Told of every entry appended, so that checkpoints are signed as they fall due.
    private let integrity: AuditIntegrity?
    /// Refused administration this minute, per account, refused action and route: the first is
    /// audited, the rest refused alike but not written, so that a signed-in account cannot turn
    /// its requests into a row each.
    private let refusedAdministration: AttemptThrottle

    public init(store: any AuditStore, clock: WallClock, integrity: AuditIntegrity? = nil) {
        self.store = store
        self.clock = clock
        self.integrity = integrity
        refusedAdministration = AttemptThrottle(limit: 1, window: 60, capacity: 10_000, clock: clock)
    }

    /// Runs `body`, a change and the entries it records, as one unit: they commit together or
    /// not at all (`AuditStore.atomically`). Keep `body` to store calls and `record`; act on the
    /// outcome (caches, timers, metrics) after it returns.
    public func change<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await store.atomically(body, published: { [integrity] seal in integrity?.appended(seal) })
    }

    /// `change`, then `afterwards` whether it committed or failed: a change whose outcome is not
    /// known (the store stopped answering at its commit) may stand, so what it revoked (cached
    /// credentials) is forgotten all the same.
    public func change<T: Sendable>(_ body: () async throws -> T, afterwards: () async -> Void) async throws -> T {
        let result: T
        do {
            result = try await change(body)
        } catch {
            await afterwards()
            throw error
        }
        await afterwards()
        return result
    }

    /// Appends one entry. A failure fails the caller: a change that cannot be recorded is not
    /// reported as done.
    /// - Parameter address: the client address of an API call; nil for the CLI and NeoSC itself.
    public func record(
        _ action: AuditAction, by actor: AuditActor, from address: String? = nil, success: Bool = true,
        resource: (type: String, id: String)? = nil, details: [String: String] = [:]
    ) async throws {
        // Bounded: nothing a caller sends can make one entry large (a path, an error, a name).
        // And without NUL: a store gives back what the entry's hash was made of (an e-mail a
        // failed login claimed held one, and SQLite read the entry back cut at it: the chain
        // broke for good).
        // Nor anything hidden or reordering (`escapingHidden`): a line break or a right-to-left
        // override in an e-mail a sign-in claimed is written out, not kept.
        var details = details.mapValues { $0.replacingNUL.escapingHidden.bounded(toUTF8Bytes: Self.maximumDetailBytes) }
        switch actor {
        case .operator(let via): details["source"] = via
        case .system: details["by"] = details["by"] ?? "system"
        case .principal, .account, .anonymous: break
        }
        let stored = try await store.append(
            AuditEvent(
                timestamp: clock.now(), userID: actor.userID,
                userEmail: actor.email.map { $0.replacingNUL.escapingHidden.bounded(toUTF8Bytes: 254) }, action: action,
                resourceType: resource?.type,
                resourceID: resource.map { $0.id.replacingNUL.escapingHidden.bounded(toUTF8Bytes: 256) },
                details: details, ipAddress: address?.replacingNUL.escapingHidden,
                success: success))
        if let seal = stored.seal { integrity?.appended(seal) }
    }

    /// Refuses non-administrators (403), recording the refusal as `access_denied` with the
    /// request's path: the first of each account's refusals of one action on one route in a
    /// minute (`refusedAdministration`).
    public func requireAdmin(_ principal: Principal, to action: String, from address: String?, path: String?) async throws {
        do {
            try AccessRules.requireAdmin(principal, to: action)
        } catch {
            if await refusedAdministration.admit([principal.userID, action, path ?? ""].joined(separator: "\n")) == nil {
                try await record(
                    .accessDenied, by: .principal(principal), from: address, success: false,
                    details: ["reason": error.detail, "path": path ?? ""])
            }
            throw error
        }
    }

    /// The longest detail value an entry keeps, in UTF-8 bytes.
    public static let maximumDetailBytes = 1_024
}
