import Domain
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import Services

/// Gives every page its CSRF token and checks it on every form post before the page's handler
/// runs: a post without the token of this browser's session (or, before signing in, of its form
/// cookie) is refused with 403 and changes nothing, and so is one the browser says it sent for
/// another site's page (`CrossSiteRequests`: `Sec-Fetch-Site`, else `Origin`). A page on another
/// port of this host, or on a sibling subdomain, may set this host's form cookie (cookies ignore
/// ports) and post its token: the token alone would then let it sign a browser in to its own
/// account. Whatever a page throws is answered as a page:
/// a redirect, or the status with a sentence saying what happened and a way on; never a stack
/// trace, never the API's JSON.
struct PageGuardMiddleware: RouterMiddleware {
    typealias Context = PageContext
    let browser: BrowserSession
    let renderer: PageRenderer
    let policies: Policies
    let clock: WallClock
    let crossSite: CrossSiteRequests
    /// For the session a new sign-in in the same browser replaces.
    let replacement: SessionReplacement

    /// The pages on the way to a session (signing in, its second step, registering, signing out):
    /// an `mfa_required` policy over every call lets them through, as the API's `/api/auth/*`.
    static let waysToMFA: Set<String> = [
        "/sign-in", "/sign-in/code", "/sign-in/enroll", "/sign-in/enroll/confirm", "/register", "/sign-out",
    ]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        var request = request
        var newFormCookie: Cookie?
        let secret: String
        if context.identity != nil, let session = browser.sessionToken(in: request) {
            secret = session
        } else if let form = request.cookies[browser.formCookie]?.value, BrowserSession.isWellFormedSecret(form) {
            secret = form
        } else {
            let (fresh, cookie) = browser.formSecret()
            secret = fresh
            newFormCookie = cookie
        }
        context.csrfToken = BrowserSession.csrfToken(for: secret)
        var response: Response
        do {
            response = try await guarded(&request, context: &context, formCookieIsNew: newFormCookie != nil, next: next)
        } catch {
            response = answer(error, request: request, context: context)
        }
        if let newFormCookie { response.setCookie(newFormCookie) }
        if let previous = context.identity?.principal, browser.sessionToken(in: request) != nil, startsASession(response) {
            await replacement.replace(previous, from: context.clientAddress, logger: context.logger)
        }
        return response
    }

    /// Whether `response` gives the browser a new session cookie (a sign-in, a registration, a
    /// demo's start), not a cleared one.
    private func startsASession(_ response: Response) -> Bool {
        let prefix = browser.sessionCookie + "="
        return response.headers[values: .setCookie].contains { $0.hasPrefix(prefix) && !$0.hasPrefix(prefix + ";") }
    }

    private func guarded(
        _ request: inout Request, context: inout Context, formCookieIsNew: Bool, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        // The policies over every call, as `CallPolicyCheck` applies them to the API.
        try await CallPolicyCheck.checkCall(
            policies: policies, principal: context.identity?.principal, address: context.clientAddress, at: clock.now(),
            leadsToMFA: Self.waysToMFA.contains(request.routedPath))
        if request.method == .post {
            guard crossSite.refusal(method: request.method, headers: request.headers, authority: request.head.authority) == nil else {
                throw PageProblem(
                    status: .forbidden, heading: "This form came from another site",
                    message: "Your browser says another site's page sent it. Open NeoSC yourself and use its own pages.")
            }
            let body = try await request.boundedBody(upTo: context.maxUploadSize)
            let form = FormFields(body)
            // Read from the pairs, not a decoder: a form with repeated names (checkboxes) must not
            // lose its token to a decoder that refuses them.
            let presented = form.pairs.first { $0.name == "csrf" }?.value ?? ""
            guard !formCookieIsNew, ConstantTime.equal(presented, context.csrfToken) else {
                throw PageProblem(
                    status: .forbidden, heading: "This form has expired",
                    message: "The page it came from is too old, or was not NeoSC's. Go back, reload the page and try again.")
            }
            context.form = form
        }
        return try await next(request, context)
    }

    private func answer(_ error: any Error, request: Request, context: Context) -> Response {
        let problem: PageProblem
        switch error {
        case let redirect as PageRedirect:
            return PageRenderer.redirect(to: redirect.location)
        case let given as PageProblem:
            problem = given
        case let refusal as PolicyRefusal:
            var response = renderer.problem(
                PageProblem(
                    status: refusal.limit == nil ? .forbidden : .tooManyRequests, heading: "Not allowed by policy",
                    message: refusal.detail),
                chrome: renderer.chrome(context.identity, at: request.uri.path, csrf: context.csrfToken))
            if let limit = refusal.limit { response.headers[.retryAfter] = String(limit.retryAfter) }
            return response
        case let error as DomainError:
            switch error {
            case .unauthenticated:
                return PageRenderer.redirect(to: "/sign-in")
            case .forbidden(let detail):
                problem = PageProblem(status: .forbidden, heading: "Not allowed", message: detail)
            case .notFound:
                problem = PageProblem(status: .notFound, heading: "Page not found", message: "There is nothing here. It may have been removed.")
            case .conflict(let detail):
                problem = PageProblem(status: .conflict, heading: "That did not work", message: detail)
            case .invalid(let detail):
                problem = PageProblem(status: .unprocessableContent, heading: "That did not work", message: detail)
            case .malformed(let detail):
                problem = PageProblem(status: .badRequest, heading: "That did not work", message: detail)
            case .rateLimited(let detail, let retryAfter):
                var response = renderer.problem(
                    PageProblem(
                        status: .tooManyRequests, heading: "Too many attempts",
                        message: SignInPages.withWait(detail, retryAfter)),
                    chrome: renderer.chrome(context.identity, at: request.uri.path, csrf: context.csrfToken))
                response.headers[.retryAfter] = String(retryAfter)
                return response
            case .unavailable:
                problem = PageProblem(
                    status: .serviceUnavailable, heading: "Temporarily unavailable",
                    message: "NeoSC cannot reach its store just now. Try again in a minute.")
            }
        case let error as HTTPError where error.status == .contentTooLarge:
            problem = PageProblem(status: .contentTooLarge, heading: "Too much", message: "That form was larger than NeoSC accepts.")
        case is NIOTooManyBytesError:
            problem = PageProblem(status: .contentTooLarge, heading: "Too much", message: "That form was larger than NeoSC accepts.")
        case let error as HTTPParserError:
            // Broken on the wire (a body cut short, a bad chunk): the client's, nothing to log as ours.
            context.logger.debug("malformed request", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            problem = PageProblem(status: .badRequest, heading: "That did not work", message: "The request could not be read.")
        default:
            context.logger.error("page failed", metadata: ["error": "\(String(reflecting: error))", "path": "\(request.uri.path)"])
            problem = PageProblem(
                status: .internalServerError, heading: "Something went wrong",
                message: "NeoSC could not show this page. The error has been logged; try again, or go back.")
        }
        return renderer.problem(problem, chrome: renderer.chrome(context.identity, at: request.uri.path, csrf: context.csrfToken))
    }
}

/// A page answer that is not the page asked for: a status, a heading and one sentence.
struct PageProblem: Error {
    let status: HTTPResponse.Status
    let heading: String
    let message: String
}
