import Hummingbird
import Integrations
import Logging
import Services

/// The whole HTTP surface: middleware in the order every request meets it, then the routes.
public enum PortalRouter {
    /// - Parameter accessLog: where each answered request is logged; by default an `info` line
    ///   on the request's logger.
    public static func make(portal: Portal, accessLog: any AccessLog = LoggerAccessLog()) -> Router<PortalRequestContext> {
        let router = Router(context: PortalRequestContext.self, options: .autoGenerateHeadEndpoints)
        let assets = PortalAssets()
        let renderer = PageRenderer(assets: assets, version: portal.settings.version, signsOut: portal.federation.pomerium == nil)
        router.add(
            middleware: PortalEdgeMiddleware(
                browserPolicy: BrowserPolicy(allowedOrigins: portal.settings.corsOrigins),
                telemetry: RequestTelemetry(metrics: portal.metrics, accessLog: accessLog),
                errors: ErrorResponseMiddleware { request, status, detail in
                    let heading =
                        switch status {
                        case .notFound: "Page not found"
                        case .unauthorized: "Not signed in"
                        case .serviceUnavailable: "Temporarily unavailable"
                        case .tooManyRequests: "Too many requests"
                        default: "That did not work"
                        }
                    return renderer.problem(
                        PageProblem(status: status, heading: heading, message: detail), chrome: renderer.chrome(nil, at: request.uri.path, csrf: ""))
                },
                clientAddress: ForwardedClientAddress(trustedProxies: portal.settings.trustedProxies),
                crossSite: CrossSiteRequestGuard(portal: portal)))

        // Open to anyone, Pomerium or not: load balancers, Prometheus, the API's index.
        HealthRoutes(health: portal.storeHealth, version: portal.settings.version, pomerium: portal.federation.pomerium)
            .register(on: router)
        OpenAPIRoutes().register(on: router)
        // Zitadel's calls carry their own proof (a signature), not a NeoSC credential.
        if let actions = portal.settings.zitadelActions {
            ZitadelActionRoutes(
                complement: portal.tokenComplement, signingKey: actions.signingKey, projectID: actions.projectID,
                clock: portal.clock
            ).register(on: router)
        }
        if !portal.settings.metricsOnOwnListener {
            MetricsRoutes(settings: portal.settings, sessions: portal.workspaceSessions, recorder: portal.metrics)
                .register(on: router)
        }
        if portal.settings.benchmarkRoutes {
            FloorRoutes().register(on: router)
        }
        // Everything else under /api meets the identity middleware; routes that need a caller
        // are on `signedIn`, whose context exists only for a request with a valid credential.
        let api = router.group("api").add(
            middleware: APIEntryMiddleware(
                identity: IdentityMiddleware(portal: portal), policy: CallPolicyCheck(policies: portal.policies, clock: portal.clock)))
        let signedIn = api.group(context: SignedInContext.self)
        AuthRoutes(signIn: portal.signIn, demos: portal.demos, pomeriumSignOutURL: portal.federation.pomerium?.settings.signOutURL)
            .register(open: api.group("auth"), signedIn: signedIn.group("auth"))
        SecondFactorRoutes(signIn: portal.signIn).register(open: api.group("auth/mfa"), signedIn: signedIn.group("auth/mfa"))
        let browser = BrowserSession(secure: portal.settings.secureCookies)
        SSORoutes(
            federation: portal.federation, accounts: portal.externalAccounts, clock: portal.clock, browser: browser,
            signIn: portal.signIn, replacement: SessionReplacement(signIn: portal.signIn, demos: portal.demos)
        )
        .register(on: api.group("auth"))
        WorkspaceRoutes(
            catalogue: portal.catalogue, store: portal.store, administration: portal.workspaceAdministration,
            sessions: portal.workspaceSessions, demos: portal.demos, audit: portal.auditTrail
        )
        .register(on: signedIn.group("workspaces"))
        let sessions = signedIn.group("sessions")
        SessionRoutes(sessions: portal.workspaceSessions).register(on: sessions)
        StreamRoutes(streams: portal.streams, publicURL: portal.settings.publicURL).register(on: sessions)
        if let recordings = portal.recordings {
            RecordingRoutes(recordings: recordings, audit: portal.auditTrail).register(on: signedIn.group("recordings"))
        }
        AuditRoutes(store: portal.store, audit: portal.auditTrail, integrity: portal.auditIntegrity)
            .register(open: api.group("audit-logs"), signedIn: signedIn.group("audit-logs"))
        PolicyRoutes(policies: portal.policies, audit: portal.auditTrail).register(on: signedIn.group("policies"))
        OrganizationRoutes(organizations: portal.organizations, audit: portal.auditTrail).register(on: signedIn.group("organizations"))
        UserRoutes(users: portal.users, signIn: portal.signIn, store: portal.store, audit: portal.auditTrail).register(on: signedIn.group("users"))
        StatsRoutes(statistics: portal.statistics).register(on: signedIn.group("stats"))
        NetworkPeerRoutes(peers: portal.networkPeers).register(on: signedIn.group("users/me/netbird-peer"))
        // Starting a demo needs no identity, in either mode: behind Pomerium it is the public
        // route a visitor reaches before signing in (rate-limited here, per address and overall).
        DemoRoutes(demos: portal.demos, audit: portal.auditTrail, store: portal.store).register(
            open: router.group("api/demo/sessions"), signedIn: signedIn.group("demo/sessions"))

        registerPages(on: router, portal: portal, assets: assets, renderer: renderer, browser: browser)
        return router
    }

    /// The portal's pages (docs/ui.md): the same services as the API, signed in with the session
    /// cookie (or Pomerium's assertion), every form checked for its CSRF token.
    private static func registerPages(
        on router: Router<PortalRequestContext>, portal: Portal, assets: PortalAssets, renderer: PageRenderer, browser: BrowserSession
    ) {
        assets.register(on: router)
        let noVNC = NoVNCFiles(directory: portal.settings.noVNCDirectory)
        if portal.streams.isEnabled {
            if noVNC.isInstalled {
                noVNC.register(on: router, logger: portal.logger)
            } else {
                portal.logger.warning(
                    "Streaming is on, but noVNC is not installed: the viewer cannot draw streamed desktops (install Debian's novnc, or set NEOSC_NOVNC_DIR)",
                    metadata: ["directory": "\(noVNC.directory)"])
            }
        }
        let pages = router.group()
            .add(middleware: IdentityMiddleware(portal: portal, credentials: .browserSession(browser)))
            .group(context: PageContext.self)
            .add(
                middleware: PageGuardMiddleware(
                    browser: browser, renderer: renderer, policies: portal.policies, clock: portal.clock,
                    // NeoSC's own pages post its forms: the API's CORS origins are not among them.
                    crossSite: CrossSiteRequests(publicURL: portal.settings.publicURL, corsOrigins: []),
                    replacement: SessionReplacement(signIn: portal.signIn, demos: portal.demos)))
        let signedIn = pages.group(context: SignedInPageContext.self)
        SignInPages(
            signIn: portal.signIn, demos: portal.demos, renderer: renderer, browser: browser, clock: portal.clock,
            formSignIn: portal.federation.pomerium == nil, ssoAvailable: portal.federation.oidc?.settings.callbackURL != nil,
            registration: portal.settings.allowRegistration
        ).register(open: pages, signedIn: signedIn)
        DashboardPage(
            statistics: portal.statistics, activity: ActivityCounter(store: portal.store, clock: portal.clock, logger: portal.logger),
            renderer: renderer, clock: portal.clock
        ).register(on: pages)
        WorkspacePages(
            catalogue: portal.catalogue, store: portal.store, sessions: portal.workspaceSessions, demos: portal.demos,
            renderer: renderer, clock: portal.clock, streams: portal.streams, publicURL: portal.settings.publicURL
        ).register(on: signedIn)
        SessionPages(
            sessions: portal.workspaceSessions, store: portal.store, renderer: renderer, clock: portal.clock, streams: portal.streams,
            publicURL: portal.settings.publicURL
        )
        .register(on: signedIn)
        AuditPage(store: portal.store, audit: portal.auditTrail, renderer: renderer, clock: portal.clock).register(on: signedIn)
        DemoPages(demos: portal.demos, store: portal.store, renderer: renderer, browser: browser, clock: portal.clock)
            .register(open: pages)
        AdminPages(
            administration: portal.workspaceAdministration, policies: portal.policies, statistics: portal.statistics,
            store: portal.store, audit: portal.auditTrail, renderer: renderer
        ).register(on: signedIn)
        AdminPeoplePages(
            users: portal.users, organizations: portal.organizations, demos: portal.demos, store: portal.store, audit: portal.auditTrail,
            renderer: renderer, clock: portal.clock
        ).register(on: signedIn)
    }

    /// `/metrics` alone, for a listener of its own (`NEOSC_METRICS_PORT`): a port no proxy
    /// route leads to, so that nobody signed in through Pomerium reaches it (peers are still
    /// checked against `NEOSC_METRICS_ALLOW`).
    public static func makeMetrics(portal: Portal) -> Router<PortalRequestContext> {
        let router = Router(context: PortalRequestContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: ErrorResponseMiddleware())
        MetricsRoutes(settings: portal.settings, sessions: portal.workspaceSessions, recorder: portal.metrics)
            .register(on: router)
        return router
    }
}
