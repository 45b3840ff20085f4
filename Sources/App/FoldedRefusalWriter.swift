import AsyncAlgorithms
import Logging
import ServiceLifecycle
import Services

/// Writes the policy refusals that were counted rather than written (`Policies.deny`: all but
/// the first of a minute per policy, caller and stage) once their minute is over, every
/// `interval`, and the rest when the server stops.
struct FoldedRefusalWriter: Service {
    let policies: Policies
    let interval: Duration
    let logger: Logger

    func run() async throws {
        for await _ in AsyncTimerSequence(interval: interval, clock: .continuous).cancelOnGracefulShutdown() {
            await write(everything: false)
        }
        await write(everything: true)
    }

    private func write(everything: Bool) async {
        do {
            try await policies.auditFoldedRefusals(everything: everything)
        } catch {
            logger.warning("could not write the counted policy refusals; will retry", metadata: ["error": "\(error)"])
        }
    }
}
