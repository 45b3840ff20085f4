import ServiceLifecycle
import Services

/// Forwards the audit trail to one SIEM target for the server's lifetime (`AuditForwarder.run`).
struct AuditForwardingService: Service {
    let forwarder: AuditForwarder

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await forwarder.run()
        }
    }
}
