import Domain
import Foundation
import Hummingbird
import Services

/// Choosing a password on the pages, as `POST /api/auth/password` does (its rules, throttles and
/// audit): `/sign-in/password` for an account an administrator's reset obliges to choose one
/// before it may sign in (its sign-in lands there), and `/account/password` for someone signed
/// in, whose other sessions are then signed out.
extension SignInPages {
    func registerPasswordPages(open: RouterGroup<PageContext>, signedIn: RouterGroup<SignedInPageContext>) {
        open.get("sign-in/password", use: requiredChangeForm)
        open.post("sign-in/password", use: submitRequiredChange)
        signedIn.get("account/password", use: changeForm)
        signedIn.post("account/password", use: submitChange)
    }

    private struct PasswordChange: Decodable {
        var email: String?
        var currentPassword: String?
        var newPassword: String?
        var repeatedPassword: String?
        var code: String?

        enum CodingKeys: String, CodingKey {
            case email, code
            case currentPassword = "current_password"
            case newPassword = "new_password"
            case repeatedPassword = "repeated_password"
        }

        /// The new password typed twice the same (422 naming the second field otherwise).
        func requireRepeated() throws -> String {
            let new = newPassword ?? ""
            guard new == (repeatedPassword ?? "") else {
                throw DomainError.invalid("Field 'repeated_password' must be the new password again")
            }
            return new
        }
    }

    struct PasswordBody {
        /// The reset's change, made before signing in (`/sign-in/password`); else a signed-in one.
        let required: Bool
        let action: String
        let email: String
        let problem: String?
        /// The field the problem is about, marked invalid.
        let field: [String: Bool]
        /// The field the cursor starts in: the one the problem is about, else the first to fill.
        let focus: [String: Bool]

        init(required: Bool, email: String = "", problem: String? = nil, field: String? = nil) {
            self.required = required
            action = required ? "/sign-in/password" : "/account/password"
            self.email = email
            self.problem = problem
            self.field = field.map { [$0: true] } ?? [:]
            focus = [field ?? (required && email.isEmpty ? "email" : "current_password"): true]
        }
    }

    /// The sign-in's "password change required" (403, as the API's): the form to choose one, the
    /// e-mail kept.
    func passwordChangePage(_ context: PageContext, email: String) -> Response {
        passwordPage(csrf: context.csrfToken, PasswordBody(required: true, email: email), status: .forbidden)
    }

    @Sendable func requiredChangeForm(_ request: Request, context: PageContext) async throws -> Response {
        guard context.identity == nil, formSignIn else { return PageRenderer.redirect(to: "/") }
        return passwordPage(csrf: context.csrfToken, PasswordBody(required: true), status: .ok)
    }

    /// `SignIn.changePassword(email:…)`: the password given checked as a login checks it (and the
    /// code, for an account with a second factor), then the account signed in with the new one.
    @Sendable func submitRequiredChange(_ request: Request, context: PageContext) async throws -> Response {
        guard formSignIn else { return PageRenderer.redirect(to: "/") }
        let form = try context.form.decode(PasswordChange.self)
        let email = form.email ?? ""
        do {
            let new = try form.requireRepeated()
            return signedIn(
                try await signIn.changePassword(
                    email: email, current: form.currentPassword ?? "", new: new, code: form.code.flatMap { $0.isEmpty ? nil : $0 },
                    from: context.clientAddress))
        } catch let refusal as PolicyRefusal where refusal.enrollment != nil {
            // The password has changed; a policy wants a second factor enrolled before signing in.
            return toEnrollment(refusal)
        } catch let refusal as PolicyRefusal {
            return passwordPage(csrf: context.csrfToken, PasswordBody(required: true, email: email, problem: refusal.detail), status: .forbidden)
        } catch let problem as DomainError {
            return refused(problem, csrf: context.csrfToken) { PasswordBody(required: true, email: email, problem: $0, field: $1) }
        }
    }

    @Sendable func changeForm(_ request: Request, context: SignedInPageContext) async throws -> Response {
        // Not a form that can only be refused (409, as `SignIn.changePassword` refuses it).
        guard context.principal.role != .demoUser else {
            throw PageProblem(
                status: .conflict, heading: "A demo has no password",
                message: "A demo visitor's account has no password: it lasts as long as its demo.")
        }
        let notice =
            request.uri.queryParameters["notice"] == "changed"
            ? "Your password was changed. Your other sign-ins were signed out, and your open workspaces closed." : nil
        return passwordPage(csrf: context.csrfToken, PasswordBody(required: false), status: .ok, identity: context.identity, notice: notice)
    }

    /// `SignIn.changePassword(of:…)`: the current password checked with a login's throttles;
    /// every other token of the account revoked, this session kept.
    @Sendable func submitChange(_ request: Request, context: SignedInPageContext) async throws -> Response {
        let form = try context.form.decode(PasswordChange.self)
        do {
            let new = try form.requireRepeated()
            _ = try await signIn.changePassword(
                of: context.principal, current: form.currentPassword ?? "", new: new, from: context.clientAddress)
            return PageRenderer.redirect(to: "/account/password?notice=changed")
        } catch let problem as DomainError {
            return refused(problem, csrf: context.csrfToken, identity: context.identity) { PasswordBody(required: false, problem: $0, field: $1) }
        }
    }

    /// The page again with `problem` in words for people, beside the field it is about; a
    /// throttled attempt with its wait, in words and in `Retry-After`.
    private func refused(
        _ problem: DomainError, csrf: String, identity: Identity? = nil, body: (String, String?) -> PasswordBody
    ) -> Response {
        if case .rateLimited(let detail, let retryAfter) = problem {
            var response = passwordPage(
                csrf: csrf, body(Self.withWait(detail, retryAfter), nil), status: .tooManyRequests, identity: identity)
            response.headers[.retryAfter] = String(retryAfter)
            return response
        }
        let (words, field) = Self.passwordProblem(problem)
        return passwordPage(csrf: csrf, body(words, field), status: problem.status, identity: identity)
    }

    /// What the service's refusal says, in the page's words (the API names its JSON fields), and
    /// the form field it is about.
    static func passwordProblem(_ problem: DomainError) -> (words: String, field: String?) {
        let detail = problem.detail
        for (prefix, words, field) in [
            ("new_password ", "The new password ", "new_password"), ("password must ", "The new password must ", "new_password"),
            ("current_password ", "The current password ", "current_password"), ("password ", "The password you were given ", "current_password"),
            ("email ", "The e-mail ", "email"),
        ] where detail.hasPrefix(prefix) {
            return (words + detail.dropFirst(prefix.count), field)
        }
        if let field = AdminPages.field(of: detail) { return (detail, field) }
        if detail.contains("code") { return (detail, "code") }
        if problem == .invalidCredentials { return ("The e-mail or the password you were given is wrong.", "current_password") }
        return (detail, nil)
    }

    private func passwordPage(
        csrf: String, _ body: PasswordBody, status: HTTPResponse.Status, identity: Identity? = nil, notice: String? = nil
    ) -> Response {
        renderer.render(
            "password", title: body.required ? "Choose a new password" : "Change your password",
            chrome: renderer.chrome(identity, at: body.action, csrf: csrf, notice: notice), body: body, status: status)
    }
}
