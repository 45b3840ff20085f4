import Integrations
import Logging
import Net
import ServiceLifecycle

/// Reaches the configured identity providers once, beside the server rather than before it: a
/// provider that is down is reported but neither delays nor stops NeoSC (local accounts keep
/// working, and the keys are fetched again on first use).
struct ProviderWarmUp: Service {
    let federation: Federation
    let logger: Logger

    func run() async throws {
        var providers: [(what: String, url: String, warmUp: @Sendable () async throws -> Void)] = []
        if let oidc = federation.oidc { providers.append(("OIDC provider", oidc.settings.issuer, oidc.warmUp)) }
        if let pomerium = federation.pomerium {
            providers.append(("Pomerium keys", pomerium.settings.jwksURL, pomerium.warmUp))
        }
        for provider in providers {
            do {
                try await provider.warmUp()
                logger.notice("\(provider.what) reachable", metadata: ["url": "\(provider.url)"])
            } catch {
                logger.warning("\(provider.what) not reachable yet", metadata: ["url": "\(provider.url)", "error": "\(error)"])
            }
        }
        try? await gracefulShutdown()
    }
}
