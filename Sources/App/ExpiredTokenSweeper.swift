import AsyncAlgorithms
import Domain
import Foundation
import Logging
import ServiceLifecycle

/// Deletes tokens that expired more than a day ago, once at start-up and then every `interval`,
/// so the tokens table holds live credentials and recent history, not every login ever made.
struct ExpiredTokenSweeper: Service {
    let store: any TokenStore
    let interval: Duration
    /// The service's clock, as every expiry is judged by it (a sweep by the machine's clock once
    /// removed, in a test on a clock of 2023, a TOTP nonce that was still live: a code replayed).
    let clock: WallClock
    let logger: Logger

    func run() async throws {
        await sweep()
        for await _ in AsyncTimerSequence(interval: interval, clock: .continuous).cancelOnGracefulShutdown() {
            await sweep()
        }
    }

    private func sweep() async {
        do {
            let removed = try await store.purgeExpired(before: clock.now().addingTimeInterval(-86_400))
            if removed > 0 { logger.info("removed expired tokens", metadata: ["count": "\(removed)"]) }
        } catch {
            logger.warning("could not remove expired tokens; will retry", metadata: ["error": "\(error)"])
        }
    }
}
