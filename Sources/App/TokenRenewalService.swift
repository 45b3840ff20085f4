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
struct TokenRenewalService: Service {
    let renewal: TokenRenewal
    let lifetime: TimeInterval
    let logger: Logger

    /// How long asks for renewal are gathered into one read.
    static let gathering = Duration.milliseconds(25)

    func run() async throws {
        guard lifetime > 0 else { return }
        let interval = Duration.milliseconds(max(50, Int(lifetime * 250)))
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await _ in AsyncTimerSequence(interval: interval, clock: .continuous).cancelOnGracefulShutdown() {
                    await pass { try await renewal.renewDue(within: renewal.margin) }
                }
            }
            group.addTask {
                for await _ in renewal.wanted.cancelOnGracefulShutdown() {
                    try? await Task.sleep(for: Self.gathering)
                    await pass { try await renewal.renewLapsingInUse() }
                }
            }
        }
    }

    private func pass(_ body: () async throws -> TokenRenewal.Outcome) async {
        do {
            _ = try await body()
        } catch {
            // The entries lapse as they would without renewal; each request then reads its own.
            logger.warning("could not renew cached tokens; will retry", metadata: ["error": "\(error)"])
        }
    }
}
