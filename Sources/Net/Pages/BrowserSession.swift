import Crypto
import Domain
import Foundation
import Hummingbird
import Services

/// How a browser holds its sign-in to the portal, and how its forms prove they came from a page
/// NeoSC rendered for it.
///
/// - The session is a NeoSC bearer token (issued, audited, expired and revoked like any other)
///   in an HttpOnly, `SameSite=Strict` cookie; `Secure` and `__Host-` prefixed when the public
///   URL is https (the prefix pins the cookie to this host and path `/`).
/// - Every form carries a CSRF token: SHA-256 over a label and the session token, so only a page
///   rendered for this session knows it and it reveals nothing of the token. Before signing in
///   (the sign-in and demo forms, and every form behind Pomerium, where NeoSC sets no session
///   cookie) the secret is a random value in a second cookie of the same kind, compared the same
///   way (double submit).
struct BrowserSession: Sendable {
    let secure: Bool
    let sessionCookie: String
    let formCookie: String
    let challengeCookie: String
    /// That this browser started a demo (no secret: "1"), so that once the demo and its session
    /// cookie are gone the demo page can say it is over.
    let demoCookie: String

    init(secure: Bool) {
        self.secure = secure
        let prefix = secure ? "__Host-" : ""
        sessionCookie = prefix + "neosc_session"
        formCookie = prefix + "neosc_form"
        challengeCookie = prefix + "neosc_mfa"
        demoCookie = prefix + "neosc_demo"
    }

    /// The session token the browser presents, if any (checked by the caller).
    func sessionToken(in request: Request) -> String? {
        request.cookies[sessionCookie]?.value
    }

    func session(token: String, expiresAt: Date, now: Date) -> Cookie {
        cookie(sessionCookie, token, maxAge: max(1, Int(expiresAt.timeIntervalSince(now))))
    }

    /// The pending second step of a sign-in (the challenge token: five minutes for a code, fifteen to enrol a second factor).
    func challenge(token: String, expiresAt: Date, now: Date) -> Cookie {
        cookie(challengeCookie, token, maxAge: max(1, Int(expiresAt.timeIntervalSince(now))))
    }

    func demoStarted() -> Cookie {
        cookie(demoCookie, "1", maxAge: 86_400)
    }

    func formSecret() -> (secret: String, cookie: Cookie) {
        let secret = Base64URL.random(byteCount: 32)
        return (secret, cookie(formCookie, secret, maxAge: nil))
    }

    /// Deletes cookie `name`.
    func cleared(_ name: String) -> Cookie {
        cookie(name, "", maxAge: 0)
    }

    private func cookie(_ name: String, _ value: String, maxAge: Int?) -> Cookie {
        Cookie(name: name, value: value, maxAge: maxAge, path: "/", secure: secure, httpOnly: true, sameSite: .strict)
    }

    /// The CSRF token for forms of the browser whose secret (session token or form cookie) is
    /// `secret`.
    static func csrfToken(for secret: String) -> String {
        var hash = SHA256()
        hash.update(data: Array("neosc portal form\n".utf8))
        hash.update(data: Array(secret.utf8))
        return Hex.encode(hash.finalize())
    }

    /// Whether a form secret from a cookie has the shape `formSecret()` gives (anything else is
    /// replaced, never echoed into a page).
    static func isWellFormedSecret(_ value: String) -> Bool {
        value.utf8.count == 43
            && value.utf8.allSatisfy { byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == 0x2D || byte == 0x5F
            }
    }
}
