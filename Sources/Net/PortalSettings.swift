import Domain
import Foundation

/// The settings the HTTP layer needs, already validated by the `neosc` configuration.
public struct PortalSettings: Sendable {
    public var version: String
    public var tokenLifetime: TimeInterval
    public var allowRegistration: Bool
    public var maxSessionsPerUser: Int
    /// Exact origins allowed to call the API from a browser; empty means no CORS headers at all.
    public var corsOrigins: [String]
    public var trustedProxies: TrustedProxies
    /// Peers allowed to read `/metrics`.
    public var metricsAllowed: TrustedProxies
    /// Renders the metrics in Prometheus text format; nil serves no `/metrics`.
    public var metricsExposition: (@Sendable () -> String)?
    /// `/metrics` is served by a listener of its own (`PortalRouter.makeMetrics`), not the API's.
    public var metricsOnOwnListener = false
    /// Serves `GET /bench/floor`, the no-work route load benchmarks compare against.
    public var benchmarkRoutes = false
    /// The signing key of NeoSC's Zitadel Actions v2 target, and NeoSC's Zitadel project;
    /// nil serves no `/api/integrations/zitadel/token-claims`.
    public var zitadelActions: (signingKey: Secret, projectID: String)?
    /// The portal's cookies are `Secure` and `__Host-` prefixed: NeoSC's public URL is https.
    public var secureCookies = false
    /// NeoSC's public URL (`NEOSC_PUBLIC_URL`, no trailing slash), whose scheme and host stream
    /// URLs take; nil: the request's own host.
    public var publicURL: String?
    /// How workspace streams are relayed (issue #17).
    public var streams = StreamSettings()
    /// Where noVNC is installed (`NEOSC_NOVNC_DIR`): the stream viewer's client, served at `/novnc/`.
    public var noVNCDirectory = "/usr/share/novnc"

    public init(
        version: String, tokenLifetime: TimeInterval = 8 * 3_600, allowRegistration: Bool = true,
        maxSessionsPerUser: Int = 3, corsOrigins: [String] = [], trustedProxies: TrustedProxies = .init(),
        metricsAllowed: TrustedProxies = .init(), metricsExposition: (@Sendable () -> String)? = nil
    ) {
        self.version = version
        self.tokenLifetime = tokenLifetime
        self.allowRegistration = allowRegistration
        self.maxSessionsPerUser = maxSessionsPerUser
        self.corsOrigins = corsOrigins
        self.trustedProxies = trustedProxies
        self.metricsAllowed = metricsAllowed
        self.metricsExposition = metricsExposition
    }
}
