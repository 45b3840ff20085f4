import AsyncAlgorithms
import Logging
import ServiceLifecycle
import Services

/// Applies, every `interval`, the unlocks of throttled accounts that another process recorded
/// (`neosc admin unlock`, or an administrator's request served by another replica): failed-login
/// counts live in each process's memory, the unlocks in the store.
struct LoginUnlockWatcher: Service {
    let signIn: SignIn
    let interval: Duration
    let logger: Logger

    func run() async throws {
        for await _ in AsyncTimerSequence(interval: interval, clock: .continuous).cancelOnGracefulShutdown() {
            do {
                let applied = try await signIn.applyRecordedUnlocks()
                if applied > 0 { logger.info("applied login unlocks", metadata: ["count": "\(applied)"]) }
            } catch {
                logger.warning("could not read login unlocks; will retry", metadata: ["error": "\(error)"])
            }
        }
    }
}
