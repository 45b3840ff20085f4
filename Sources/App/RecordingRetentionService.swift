import AsyncAlgorithms
import Logging
import ServiceLifecycle
import Services

/// Once at start-up and then every `interval`, deletes the stream recordings whose retention has
/// passed (`Recordings.applyRetention`, each deletion audited).
struct RecordingRetentionService: Service {
    let recordings: Recordings
    let interval: Duration
    let logger: Logger

    func run() async throws {
        await apply()
        for await _ in AsyncTimerSequence(interval: interval, clock: .continuous).cancelOnGracefulShutdown() {
            await apply()
        }
    }

    private func apply() async {
        do {
            let deleted = try await recordings.applyRetention()
            if deleted > 0 { logger.info("Recordings past their retention deleted", metadata: ["count": "\(deleted)"]) }
        } catch {
            logger.warning("Recording retention could not be applied; will retry", metadata: ["error": "\(error)"])
        }
    }
}
