import Actors
import AsyncAlgorithms
import Domain
import Foundation
import Logging
import Net
import ServiceLifecycle
import Services

/// Runs the deadline scheduler for the process's lifetime: re-arms every persisted deadline at
/// start-up (overdue ones fire at once), hands due deadlines to a few workers, and rescans the
/// store every `NEOSC_EXPIRY_RESCAN` for deadlines other replicas armed or left behind.
struct ExpiryService: Service {
    let portal: Portal
    let logger: Logger
    /// Deadlines handled at once; clean-ups wait on outside services, session ends on the store.
    let workers = 8

    func run() async throws {
        let (due, continuation) = AsyncStream.makeStream(of: DeadlineKey.self, bufferingPolicy: .unbounded)
        let scheduler = portal.lifetimes.scheduler
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await scheduler.run(firing: continuation) }
            for _ in 0..<workers {
                group.addTask {
                    for await key in due { await portal.lifetimes.handleDeadline(key) }
                }
            }
            group.addTask { await rescanUntilShutdown() }
            // Cancelled on graceful shutdown: the scheduler stops and finishes the stream, the
            // workers finish what they hold. Unfinished clean-ups resume from the store on the next start.
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }

    /// Re-arms every persisted deadline now and then every `rescanInterval`, until shutdown.
    private func rescanUntilShutdown() async {
        let interval = Duration.milliseconds(Int(portal.lifetimes.settings.rescanInterval * 1_000))
        await rescan()
        for await _ in AsyncTimerSequence(interval: interval, clock: .continuous).cancelOnGracefulShutdown() {
            await rescan()
        }
    }

    private func rescan() async {
        do {
            let armed = try await portal.lifetimes.armPersistedDeadlines()
            logger.debug("deadlines re-armed from the store", metadata: ["count": "\(armed)"])
        } catch {
            logger.warning("could not load deadlines; will retry", metadata: ["error": "\(error)"])
        }
    }
}
