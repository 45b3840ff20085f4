import AsyncAlgorithms
import Domain
import Foundation
import Logging
import ServiceLifecycle
import Services

/// Renews the cached identities of the tokens in use before they lapse (`TokenRenewal`): every
/// quarter of the cache's lifetime, the entries with less than half of it left. An entry is thus
/// read again at least a quarter lifetime before it would lapse, with room for the read itself.
struct TokenRenewalService: Service {
    let renewal: TokenRenewal
    let lifetime: TimeInterval
    let logger: Logger

    func run() async throws {
        guard lifetime > 0 else { return }
        let interval = Duration.milliseconds(max(50, Int(lifetime * 250)))
        for await _ in AsyncTimerSequence(interval: interval, clock: .continuous).cancelOnGracefulShutdown() {
            do {
                try await renewal.renewDue(within: lifetime / 2)
            } catch {
                // The entries lapse as they would without renewal; each request then reads its own.
                logger.warning("could not renew cached tokens; will retry", metadata: ["error": "\(error)"])
            }
        }
    }
}
