import Domain
import Foundation

/// The security policies: read by anyone signed in, switched on and off by administrators
/// (whether the caller may is the caller's check). Every switch is audited.
public struct Policies: Sendable {
    private let store: any PolicyStore
    private let audit: AuditTrail
    private let clock: WallClock

    public init(store: any PolicyStore, audit: AuditTrail, clock: WallClock) {
        self.store = store
        self.audit = audit
        self.clock = clock
    }

    public func all() async throws -> [Policy] {
        try await store.policies()
    }

    public func policy(_ id: String) async throws -> Policy {
        guard let policy = try await store.policy(id: id) else { throw DomainError.notFound("Policy not found") }
        return policy
    }

    /// Sets policy `id` to `enabled`, or flips it when `enabled` is nil, atomically in the store.
    public func set(_ id: String, enabled: Bool?, by actor: AuditActor, from address: String?) async throws -> Policy {
        try await audit.change {
            guard let policy = try await store.setEnabled(id: id, enabled, at: clock.now()) else {
                throw DomainError.notFound("Policy not found")
            }
            try await audit.record(
                .togglePolicy, by: actor, from: address, resource: ("policy", id), details: ["enabled": String(policy.enabled)])
            return policy
        }
    }
}
