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
        do {
            if let checkpoint = try await integrity.signHead() {
                logger.info("signed the audit chain's head", metadata: ["seq": "\(checkpoint.seq)"])
            }
        } catch {
            logger.warning("could not sign the audit chain's head at shutdown", metadata: ["error": "\(error)"])
        }
    }
}
