import AsyncAlgorithms
import Domain
import Foundation
import Logging
import ServiceLifecycle
import Services

/// Renews the cached identities of the tokens in use before they lapse (`TokenRenewal`): every
/// quarter of the cache's lifetime, the entries with less than half of it left, so an entry used
/// since its read is read again at least a quarter lifetime before it would lapse; and, as soon as
/// a use comes with less than half of it left (`TokenCache.renewalWanted`), the entries such uses
/// asked for, gathered for `gathering`: an entry first used after the last scheduled pass that
/// could catch it is renewed too, instead of lapsing and being read by its next request.
/// One pass at a time: each finds the entries the one before renewed no longer due, so no token
/// is read twice (two passes side by side could both take it).
struct TokenRenewalService: Service {
    let renewal: TokenRenewal
    let logger: Logger

    /// How long asks for renewal are gathered into one read.
    static let gathering = Duration.milliseconds(25)

    private enum Pass {
        case scheduled, wanted
    }

    func run() async throws {
        let lifetime = renewal.lifetime
        guard lifetime > 0 else { return }
        let interval = Duration.milliseconds(max(50, Int(lifetime * 250)))
        let passes = merge(
            AsyncTimerSequence(interval: interval, clock: .continuous).map { _ in Pass.scheduled },
            renewal.wanted.map { Pass.wanted })
        for await pass in passes.cancelOnGracefulShutdown() {
            do {
                switch pass {
                case .scheduled:
                    try await renewal.renewDue(within: renewal.margin)
                case .wanted:
                    try? await Task.sleep(for: Self.gathering)
                    try await renewal.renewLapsingInUse()
                }
            } catch {
                // The entries lapse as they would without renewal; each request then reads its own.
                logger.warning("could not renew cached tokens; will retry", metadata: ["error": "\(error)"])
            }
        }
    }
}
