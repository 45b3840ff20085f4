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
        // Cancelled (a stop past its deadline): the store's own closing signs the head, once.
        guard !Task.isCancelled else { return }
        await Self.signHeadAtStop(integrity, logger: logger)
    }

    /// Signs the chain's head if it is not signed yet, in a task of its own: the caller's may be
    /// cancelled, and the signature must still be written.
    static func signHeadAtStop(_ integrity: AuditIntegrity, logger: Logger) async {
        await Task {
            do {
                if let checkpoint = try await integrity.signHead() {
                    logger.info("signed the audit chain's head", metadata: ["seq": "\(checkpoint.seq)"])
                }
            } catch {
                logger.warning("could not sign the audit chain's head at shutdown", metadata: ["error": "\(error)"])
            }
        }.value
    }
}
