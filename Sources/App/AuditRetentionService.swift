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
            guard let applied = try await integrity.applyRetention(before: cutoff) else { return }
            try await audit.record(
                .auditRetentionApplied, by: .system(onAccount: nil, email: nil),
                details: [
                    "removed": String(applied.removed), "through_seq": String(applied.through),
                    "retention_days": String(days), "cutoff": cutoff.formatted(.iso8601),
                ])
            logger.notice(
                "removed audit entries past their retention",
                metadata: ["removed": "\(applied.removed)", "through_seq": "\(applied.through)"])
        } catch {
            logger.error("could not apply the audit retention; will retry", metadata: ["error": "\(error)"])
        }
    }
}
