import Domain
import Foundation
import Hummingbird
import Services

/// `/sign-in`, its second step `/sign-in/code` (or, when a policy wants a second factor the
/// account has not got, `/sign-in/enroll`), and `/sign-out`: the same `SignIn` service as
/// `/api/auth/login`, `/api/auth/mfa/verify` (`enroll`, `confirm`) and `/api/auth/logout`
/// (throttling, policies, audit), with the token in the session cookie instead of a JSON body.
struct SignInPages {
    let signIn: SignIn
    let demos: DemoLifecycle
    let renderer: PageRenderer
    let browser: BrowserSession
    let clock: WallClock
    /// Behind Pomerium the pages show no sign-in form: the assertion is the sign-in.
    let formSignIn: Bool
    let ssoAvailable: Bool
    /// Self-registration is open (`NEOSC_ALLOW_REGISTRATION`).
    let registration: Bool

    func register(open: RouterGroup<PageContext>, signedIn: RouterGroup<SignedInPageContext>) {
        open.get("sign-in", use: form)
        open.post("sign-in", use: submit)
        open.get("sign-in/code", use: codeForm)
        open.post("sign-in/code", use: submitCode)
        open.get("sign-in/enroll", use: enrollmentForm)
        open.post("sign-in/enroll", use: beginEnrollment)
        open.post("sign-in/enroll/confirm", use: confirmEnrollment)
        open.get("register", use: registrationForm)
        open.post("register", use: register)
        signedIn.post("sign-out", use: signOut)
        registerPasswordPages(open: open, signedIn: signedIn)
    }

    private struct Credentials: Decodable {
        var email: String?
        var password: String?
    }

    private struct Code: Decodable {
        var code: String?
    }

    private struct FormBody {
        let email: String
        let problem: String?
        let sso: Bool
        let registration: Bool
    }

    private struct Registration: Decodable {
        var name: String?
        var email: String?
        var password: String?
        var organization: String?
    }

    private struct RegistrationBody {
        let name: String
        let email: String
        let organization: String
        let problem: String?
        /// The field the problem names, marked invalid.
        let field: [String: Bool]
    }

    @Sendable func registrationForm(_ request: Request, context: PageContext) async throws -> Response {
        guard context.identity == nil, formSignIn, registration else { return PageRenderer.redirect(to: "/") }
        return registrationPage(context, RegistrationBody(name: "", email: "", organization: "", problem: nil, field: [:]), status: .ok)
    }

    /// `SignIn.register`, as `POST /api/auth/register` (its limits, validation and audit); the new
    /// account is signed in with the session cookie.
    @Sendable func register(_ request: Request, context: PageContext) async throws -> Response {
        guard formSignIn, registration else { return PageRenderer.redirect(to: "/") }
        let form = try context.form.decode(Registration.self)
        do {
            let grant = try await signIn.register(from: context.clientAddress) {
                SignIn.Registration(
                    email: form.email ?? "", password: form.password ?? "", name: form.name ?? "",
                    organization: (form.organization ?? "").isEmpty ? nil : form.organization)
            }
            var response = PageRenderer.redirect(to: "/")
            response.setCookie(browser.session(token: grant.token, expiresAt: grant.expiresAt, now: clock.now()))
            return response
        } catch let refusal as PolicyRefusal where refusal.enrollment != nil {
            return toEnrollment(refusal)
        } catch let problem as DomainError {
            // "Field 'email' …", or "password must be …".
            let named =
                AdminPages.field(of: problem.detail)
                ?? ["name", "email", "password", "organization"].first { problem.detail.hasPrefix($0 + " ") }
            let field = named.map { [$0: true] } ?? [:]
            return registrationPage(
                context,
                RegistrationBody(
                    name: form.name ?? "", email: form.email ?? "", organization: form.organization ?? "", problem: problem.detail,
                    field: field), status: problem.status)
        }
    }

    private func registrationPage(_ context: PageContext, _ body: RegistrationBody, status: HTTPResponse.Status) -> Response {
        renderer.render(
            "register", title: "Create an account", chrome: renderer.chrome(nil, at: "/register", csrf: context.csrfToken), body: body,
            status: status)
    }

    private struct CodeBody {
        let problem: String?
    }

    /// The fixed notices a redirect may ask this page to show (never text from the query).
    static let notices = [
        "signed-out": "You have signed out.", "ended": "Your session has ended. Sign in again.",
        "expired": "That sign-in has expired. Sign in again.",
    ]

    @Sendable func form(_ request: Request, context: PageContext) async throws -> Response {
        guard context.identity == nil, formSignIn else { return PageRenderer.redirect(to: "/") }
        let notice = request.uri.queryParameters["notice"].flatMap { Self.notices[String($0)] }
        return page(context, request: request, email: "", problem: nil, status: .ok, notice: notice)
    }

    @Sendable func submit(_ request: Request, context: PageContext) async throws -> Response {
        guard formSignIn else { return PageRenderer.redirect(to: "/") }
        let fields = try context.form.decode(Credentials.self)
        let email = fields.email ?? ""
        do {
            return signedIn(try await signIn.logIn(email: email, password: fields.password ?? "", from: context.clientAddress))
        } catch let problem as DomainError {
            // An administrator reset the password: on to choosing one, the e-mail kept.
            if problem == SignIn.passwordChangeRequired { return passwordChangePage(context, email: email) }
            // The API's words and statuses; the e-mail comes back, the password never does.
            if case .rateLimited(let detail, let retryAfter) = problem {
                var response = page(context, request: request, email: email, problem: Self.withWait(detail, retryAfter), status: .tooManyRequests)
                response.headers[.retryAfter] = String(retryAfter)
                return response
            }
            return page(context, request: request, email: email, problem: problem.detail, status: problem.status)
        } catch let refusal as PolicyRefusal where refusal.enrollment != nil {
            return toEnrollment(refusal)
        } catch let refusal as PolicyRefusal {
            return page(context, request: request, email: email, problem: refusal.detail, status: .forbidden)
        }
    }

    /// A right password: on to the dashboard with the session cookie, or to the second step with
    /// its challenge's.
    func signedIn(_ outcome: SignIn.Outcome) -> Response {
        switch outcome {
        case .signedIn(let grant):
            var response = PageRenderer.redirect(to: "/")
            response.setCookie(browser.session(token: grant.token, expiresAt: grant.expiresAt, now: clock.now()))
            return response
        case .secondFactorRequired(let challenge):
            var response = PageRenderer.redirect(to: "/sign-in/code")
            response.setCookie(browser.challenge(token: challenge.token, expiresAt: challenge.expiresAt, now: clock.now()))
            return response
        }
    }

    /// A sign-in refused for want of a second factor the account can enrol: on to enrolling it,
    /// with the refusal's challenge in the cookie a second step uses.
    func toEnrollment(_ refusal: PolicyRefusal) -> Response {
        guard let enrollment = refusal.enrollment else { return PageRenderer.redirect(to: "/sign-in") }
        var response = PageRenderer.redirect(to: "/sign-in/enroll")
        response.setCookie(browser.challenge(token: enrollment.token, expiresAt: enrollment.expiresAt, now: clock.now()))
        return response
    }

    private struct EnrollmentBody {
        struct Shown {
            let secret: String
            let otpauthURI: String
            let recoveryCodes: [String]
        }

        let problem: String?
        /// The key has been shown (now, or before): the code form follows.
        let started: Bool
        /// Shown once, right after it was made.
        let enrollment: Shown?
    }

    @Sendable func enrollmentForm(_ request: Request, context: PageContext) async throws -> Response {
        guard request.cookies[browser.challengeCookie] != nil else { return PageRenderer.redirect(to: "/sign-in") }
        return enrollmentPage(context, EnrollmentBody(problem: nil, started: false, enrollment: nil), status: .ok)
    }

    /// `SignIn.beginEnrollment`: a new key and recovery codes, shown on this page only.
    @Sendable func beginEnrollment(_ request: Request, context: PageContext) async throws -> Response {
        guard let challenge = request.cookies[browser.challengeCookie]?.value else { return PageRenderer.redirect(to: "/sign-in") }
        do {
            let enrollment = try await signIn.beginEnrollment(challengeToken: challenge, from: context.clientAddress)
            let shown = EnrollmentBody.Shown(
                secret: Self.grouped(enrollment.secret), otpauthURI: enrollment.otpauthURI, recoveryCodes: enrollment.recoveryCodes)
            var response = enrollmentPage(context, EnrollmentBody(problem: nil, started: true, enrollment: shown), status: .ok)
            // A key and codes shown once are not for any cache.
            response.headers[.cacheControl] = "no-store"
            return response
        } catch let problem as DomainError {
            if problem.status == .unauthorized { return signInAgain() }
            return enrollmentPage(context, EnrollmentBody(problem: problem.detail, started: false, enrollment: nil), status: problem.status)
        }
    }

    /// `SignIn.completeEnrollment`: a right code signs the account in, MFA-verified.
    @Sendable func confirmEnrollment(_ request: Request, context: PageContext) async throws -> Response {
        guard let challenge = request.cookies[browser.challengeCookie]?.value else { return PageRenderer.redirect(to: "/sign-in") }
        let code = try context.form.decode(Code.self).code ?? ""
        do {
            return signedInAfterChallenge(
                try await signIn.completeEnrollment(challengeToken: challenge, code: code, from: context.clientAddress))
        } catch let problem as DomainError {
            if problem.status == .unauthorized { return signInAgain() }
            return enrollmentPage(context, EnrollmentBody(problem: problem.detail, started: true, enrollment: nil), status: problem.status)
        } catch let refusal as PolicyRefusal {
            return enrollmentPage(context, EnrollmentBody(problem: refusal.detail, started: false, enrollment: nil), status: .forbidden)
        }
    }

    /// The second step of a sign-in passed: on to the dashboard with the session cookie, and the
    /// challenge's cookie gone.
    private func signedInAfterChallenge(_ grant: SignIn.Grant) -> Response {
        var response = PageRenderer.redirect(to: "/")
        response.setCookie(browser.session(token: grant.token, expiresAt: grant.expiresAt, now: clock.now()))
        response.setCookie(browser.cleared(browser.challengeCookie))
        return response
    }

    /// The challenge expired, was spent, or its account changed: back to the first step.
    private func signInAgain() -> Response {
        var response = PageRenderer.redirect(to: "/sign-in?notice=expired")
        response.setCookie(browser.cleared(browser.challengeCookie))
        return response
    }

    private func enrollmentPage(_ context: PageContext, _ body: EnrollmentBody, status: HTTPResponse.Status) -> Response {
        renderer.render(
            "enroll", title: "Set up a second factor", chrome: renderer.chrome(nil, at: "/sign-in", csrf: context.csrfToken),
            body: body, status: status)
    }

    /// A base32 key in groups of four, as people copy it (authenticators ignore the spaces).
    static func grouped(_ key: String) -> String {
        var grouped = ""
        for (index, character) in key.enumerated() {
            if index > 0, index % 4 == 0 { grouped.append(" ") }
            grouped.append(character)
        }
        return grouped
    }

    @Sendable func codeForm(_ request: Request, context: PageContext) async throws -> Response {
        guard request.cookies[browser.challengeCookie] != nil else { return PageRenderer.redirect(to: "/sign-in") }
        return codePage(context, problem: nil, status: .ok)
    }

    private func codePage(_ context: PageContext, problem: String?, status: HTTPResponse.Status) -> Response {
        renderer.render(
            "second-factor", title: "Enter your code", chrome: renderer.chrome(nil, at: "/sign-in", csrf: context.csrfToken),
            body: CodeBody(problem: problem), status: status)
    }

    @Sendable func submitCode(_ request: Request, context: PageContext) async throws -> Response {
        guard let challenge = request.cookies[browser.challengeCookie]?.value else { return PageRenderer.redirect(to: "/sign-in") }
        let code = try context.form.decode(Code.self).code ?? ""
        do {
            return signedInAfterChallenge(
                try await signIn.verifySecondFactor(challengeToken: challenge, code: code, from: context.clientAddress))
        } catch let problem as DomainError {
            if problem == SecondFactors.challengeGone { return signInAgain() }
            if case .rateLimited(let detail, let retryAfter) = problem {
                var response = codePage(context, problem: Self.withWait(detail, retryAfter), status: .tooManyRequests)
                response.headers[.retryAfter] = String(retryAfter)
                return response
            }
            return codePage(context, problem: problem.detail, status: problem.status)
        } catch let refusal as PolicyRefusal {
            return codePage(context, problem: refusal.detail, status: .forbidden)
        }
    }

    /// Revokes the session's token on the server (and ends its workspace sessions, as the API's
    /// logout does), then forgets the cookie.
    @Sendable func signOut(_ request: Request, context: SignedInPageContext) async throws -> Response {
        do {
            _ = try await signIn.logOut(context.principal, from: context.clientAddress)
            await demos.signedOut(context.principal)
        } catch DomainError.unauthenticated {
            // Signed out meanwhile (a second submit, a reset): the cookie goes all the same.
        }
        var response = PageRenderer.redirect(to: "/sign-in?notice=signed-out")
        response.setCookie(browser.cleared(browser.sessionCookie))
        return response
    }

    private func page(
        _ context: PageContext, request: Request, email: String, problem: String?, status: HTTPResponse.Status, notice: String? = nil
    ) -> Response {
        renderer.render(
            "sign-in", title: "Sign in", chrome: renderer.chrome(nil, at: "/sign-in", csrf: context.csrfToken, notice: notice),
            body: FormBody(email: email, problem: problem, sso: ssoAvailable, registration: registration), status: status)
    }

    /// "Too many wrong codes; try again later. Try again in 3 minutes." for a refusal's `detail`
    /// and a wait of `seconds`: the detail made a sentence, then the wait in words.
    static func withWait(_ detail: String, _ seconds: Int) -> String {
        let wait = seconds < 120 ? "Try again in \(max(1, seconds)) seconds." : "Try again in \((seconds + 59) / 60) minutes."
        return (detail.hasSuffix(".") ? detail : detail + ".") + " " + wait
    }
}
