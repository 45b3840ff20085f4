import Hummingbird
import Logging

/// The whole HTTP surface: middleware in the order every request meets it, then the routes.
public enum PortalRouter {
    public static func make(portal: Portal) -> Router<PortalRequestContext> {
        let router = Router(context: PortalRequestContext.self)
        router.add(middleware: RequestIDMiddleware())
        router.add(middleware: BrowserPolicyMiddleware(allowedOrigins: portal.settings.corsOrigins))
        router.add(middleware: RequestTelemetryMiddleware(metrics: portal.metrics))
        router.add(middleware: ErrorResponseMiddleware())
        router.add(middleware: IdentityMiddleware(portal: portal))

        HealthRoutes(portal: portal).register(on: router)
        MetricsRoutes(portal: portal).register(on: router)
        if portal.settings.benchmarkRoutes {
            FloorRoutes().register(on: router)
        }
        let api = router.group("api")
        AuthRoutes(portal: portal).register(on: api.group("auth"))
        SSORoutes(portal: portal).register(on: api.group("auth"))
        WorkspaceRoutes(portal: portal).register(on: api.group("workspaces"))
        SessionRoutes(portal: portal).register(on: api.group("sessions"))
        AuditRoutes(portal: portal).register(on: api.group("audit-logs"))
        PolicyRoutes(portal: portal).register(on: api.group("policies"))
        OrganizationRoutes(portal: portal).register(on: api.group("organizations"))
        UserRoutes(portal: portal).register(on: api.group("users"))
        StatsRoutes(portal: portal).register(on: api.group("stats"))
        DemoRoutes(portal: portal).register(on: api.group("demo/sessions"))
        return router
    }
}
