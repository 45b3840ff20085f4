import Domain
import Foundation
import Hummingbird
import Services

/// `/demo`: the public page where a visitor asks for a demo workspace (when demos are on), gets it
/// at once, and watches its countdown at `/demo/session`; when the demo ends the page says so and
/// the access is gone (its token is revoked by the clean-up). `DemoLifecycle.start` decides, as for
/// `POST /api/demo/sessions`: the limits, the sign-in policies, provisioning, audit.
struct DemoPages {
    let demos: DemoLifecycle
    let store: any Store
    let renderer: PageRenderer
    let browser: BrowserSession
    let clock: WallClock

    func register(open: RouterGroup<PageContext>) {
        open.get("demo", use: offer)
        open.post("demo", use: start)
        open.get("demo/session", use: session)
    }

    private struct Offer {
        let type: String
        let name: String
        let description: String
    }

    private struct OfferBody {
        let offers: [Offer]
        let hasOffers: Bool
        let lifetime: String
        let email: String
        let problem: String?
    }

    private struct Form: Decodable {
        var workspaceType: String?
        var email: String?

        enum CodingKeys: String, CodingKey {
            case workspaceType = "workspace_type"
            case email
        }
    }

    @Sendable func offer(_ request: Request, context: PageContext) async throws -> Response {
        try await page(context, email: "", problem: nil, status: .ok)
    }

    @Sendable func start(_ request: Request, context: PageContext) async throws -> Response {
        let form = try context.form.decode(Form.self)
        let email = (form.email ?? "").trimmingCharacters(in: .whitespaces)
        do {
            let started = try await demos.start(
                workspaceType: form.workspaceType ?? "", contactEmail: email.isEmpty ? nil : email, from: context.clientAddress)
            var response = PageRenderer.redirect(to: "/demo/session")
            // Kept as long as the demo may be extended to: an extension moves the token's end, not
            // a cookie's, and the token (not the cookie) says when the demo is over.
            response.setCookie(browser.session(token: started.token, expiresAt: started.demo.maxExpiresAt, now: clock.now()))
            response.setCookie(browser.demoStarted())
            return response
        } catch let problem as DomainError {
            var response = try await page(context, email: email, problem: problem.detail, status: problem.status)
            if case .rateLimited(_, let retryAfter) = problem { response.headers[.retryAfter] = String(retryAfter) }
            return response
        } catch let refusal as PolicyRefusal {
            return try await page(context, email: email, problem: refusal.detail, status: .forbidden)
        }
    }

    private struct SessionBody {
        let active: Bool
        let name: String
        let url: String
        let expiresAt: ShownTime?
        let ended: String
    }

    /// The visitor's demo: where to connect and when it ends; once it has ended (its token is then
    /// revoked, so the cookie no longer signs anyone in), that it is over.
    @Sendable func session(_ request: Request, context: PageContext) async throws -> Response {
        guard demos.settings.enabled else { throw DomainError.notFound("Demos are off") }
        let chrome = renderer.chrome(context.identity, at: "/demo", csrf: context.csrfToken)
        // Someone signed in who is not a visitor has no demo here, and keeps their session.
        if let principal = context.identity?.principal, principal.role != .demoUser { throw PageRedirect(to: "/") }
        guard let principal = context.identity?.principal, principal.role == .demoUser,
            let demo = try await demos.demo(of: principal), demo.status == .active, demo.expiresAt > clock.now()
        else {
            guard context.identity != nil || request.cookies[browser.demoCookie] != nil else { throw PageRedirect(to: "/demo") }
            var response = renderer.render(
                "demo-session", title: "Your demo has ended", chrome: renderer.chrome(nil, at: "/demo", csrf: context.csrfToken),
                body: SessionBody(active: false, name: "", url: "", expiresAt: nil, ended: "Your demo has ended, and its access with it."))
            response.setCookie(browser.cleared(browser.sessionCookie))
            response.setCookie(browser.cleared(browser.demoCookie))
            return response
        }
        let workspace = try await store.workspace(id: demo.workspaceID)
        return renderer.render(
            "demo-session", title: "Your demo", chrome: chrome,
            body: SessionBody(
                active: true, name: workspace?.name ?? demo.workspaceType, url: demo.connectionURL ?? workspace?.url ?? "",
                expiresAt: ShownTime(demo.expiresAt, now: clock.now()), ended: ""))
    }

    /// "5 seconds", "30 minutes", "8 hours", "2 hours 1 minute": the words the viewer's countdown
    /// uses too (PortalAssets.js).
    static func duration(_ interval: TimeInterval) -> String {
        let seconds = Int(interval.rounded())
        if seconds < 120 { return "\(seconds) second\(seconds == 1 ? "" : "s")" }
        let minutes = seconds / 60
        if minutes < 120 { return "\(minutes) minutes" }
        let rest = minutes % 60
        return "\(minutes / 60) hours" + (rest == 0 ? "" : rest == 1 ? " 1 minute" : " \(rest) minutes")
    }

    private func page(_ context: PageContext, email: String, problem: String?, status: HTTPResponse.Status) async throws -> Response {
        guard demos.settings.enabled else { throw DomainError.notFound("Demos are off") }
        var seen = Set<String>()
        let offers = try await store.workspaces().filter { $0.isOfferedForDemos && seen.insert($0.type).inserted }
            .map { Offer(type: $0.type, name: $0.name, description: $0.description) }
        return renderer.render(
            "demo", title: "Try NeoSC", chrome: renderer.chrome(context.identity, at: "/demo", csrf: context.csrfToken),
            body: OfferBody(
                offers: offers, hasOffers: !offers.isEmpty, lifetime: Self.duration(demos.settings.lifetime), email: email,
                problem: problem),
            status: status)
    }
}
