import AsyncAlgorithms
import Domain
import Foundation
import Logging
import ServiceLifecycle
import Services

/// `NEOSC_AUDIT_RETENTION_DAYS`: once at start-up and then every `interval`, removes the audit
/// entries older than the retention (a whole prefix of the chain, anchored by a signed checkpoint;
/// `AuditIntegrity.applyRetention`) and records that it did (`audit_retention_applied`).
struct AuditRetentionService: Service {
    let integrity: AuditIntegrity
    let audit: AuditTrail
    let store: any AuditStore
    /// The forwarding targets' cursor names: nothing they have not taken is removed.
    let forwardingTargets: [String]
    let days: Int
    let interval: Duration
    let clock: WallClock
    let logger: Logger

    func run() async throws {
        await apply()
        for await _ in AsyncTimerSequence(interval: interval, clock: .continuous).cancelOnGracefulShutdown() {
            await apply()
        }
    }

    private func apply() async {
        let cutoff = clock.now() - TimeInterval(days) * 86_400
        do {
            var kept: Int64?
            for target in forwardingTargets {
                let next = try await store.forwardingCursor(target) + 1
                kept = min(kept ?? next, next)
            }
            // The removal and its entry commit together where the store can hold it (the embedded
            // store); on MongoDB the steps run one by one, the anchor first, harmless to repeat.
            let retention = { () async throws -> AuditIntegrity.Retention? in
                guard let applied = try await integrity.applyRetention(before: cutoff, keepingFrom: kept) else { return nil }
                try await audit.record(
                    .auditRetentionApplied, by: .system(onAccount: nil, email: nil),
                    details: [
                        "removed": String(applied.removed), "through_seq": String(applied.through),
                        "leftovers_removed": String(applied.leftovers), "retention_days": String(days),
                        "cutoff": cutoff.formatted(.iso8601),
                    ])
                return applied
            }
            let applied = try await store.atomicallyHoldsBulkRemovals ? audit.change(retention) : retention()
            guard let applied else { return }
            logger.notice(
                "removed audit entries past their retention",
                metadata: ["removed": "\(applied.removed)", "through_seq": "\(applied.through)"])
        } catch {
            logger.error("could not apply the audit retention; will retry", metadata: ["error": "\(error)"])
        }
    }
}
