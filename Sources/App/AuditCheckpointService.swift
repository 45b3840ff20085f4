import Domain
import Logging
import ServiceLifecycle
import Services

/// Signs the audit chain's checkpoints for the server's lifetime (`AuditIntegrity.run`: every
/// 1,000 entries and hourly), and the head once more when the server stops.
struct AuditCheckpointService: Service {
    let integrity: AuditIntegrity
    let heartbeat: Duration
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await integrity.run(heartbeat: heartbeat)
        }
        // Cancelled (a stop past its deadline): the store's closing signs the head, last.
        guard !Task.isCancelled else { return }
        await Self.signHeadAtStop(integrity, last: false, logger: logger)
    }

    /// Signs the chain's head if it is not signed yet, after any signature under way, to its end
    /// even when the caller is cancelled. `last`: nothing is signed after it (the store closes).
    static func signHeadAtStop(_ integrity: AuditIntegrity, last: Bool, logger: Logger) async {
        do {
            let checkpoint = try await last ? integrity.signLastHead() : integrity.signHead()
            if let checkpoint {
                logger.info("signed the audit chain's head", metadata: ["seq": "\(checkpoint.seq)"])
            }
        } catch {
            logger.warning("could not sign the audit chain's head at shutdown", metadata: ["error": "\(error)"])
        }
    }
}
