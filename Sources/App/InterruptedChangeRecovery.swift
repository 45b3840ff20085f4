import AsyncAlgorithms
import Domain
import Foundation
import Logging
import ServiceLifecycle
import Services

/// Finishes what a process that died left half done (`AuditStore.finishInterruptedChanges`: a
/// standalone MongoDB's journaled changes), at start-up and then every `interval`: the entries
/// of changes that committed are published, changes that did not are undone, and each undoing
/// is audited `change_undone`. Nothing to do on the embedded store or a replica set.
struct InterruptedChangeRecovery: Service {
    let store: any AuditStore
    let audit: AuditTrail
    let interval: Duration
    let logger: Logger

    func run() async throws {
        await pass()
        for await _ in AsyncTimerSequence(interval: interval, clock: .continuous).cancelOnGracefulShutdown() {
            await pass()
        }
    }

    private func pass() async {
        do {
            let report = try await store.finishInterruptedChanges(at: Date())
            for failure in report.failures {
                logger.error("could not finish an interrupted change; will retry", metadata: ["what": "\(failure)"])
            }
            if report.published > 0 {
                logger.notice("published the audit entries of interrupted changes", metadata: ["count": "\(report.published)"])
            }
            for undone in report.undone {
                logger.warning(
                    "undid a change its process left unfinished", metadata: ["change": "\(undone.id)", "writes": "\(undone.writes)"])
                try await audit.record(
                    .changeUndone, by: .system(onAccount: nil, email: nil), details: ["change": undone.id, "writes": String(undone.writes)])
            }
        } catch {
            logger.warning("could not finish interrupted changes; will retry", metadata: ["error": "\(error)"])
        }
    }
}
