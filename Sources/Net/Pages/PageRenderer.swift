import Domain
import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// Renders a page: its template inside the layout, the frame every page shares (who is signed in,
/// the navigation, a notice), and the headers every page carries.
struct PageRenderer: Sendable {
    let library: MustacheLibrary
    let assets: PortalAssets
    let version: String
    /// Whether a signed-in user can sign out here (not behind Pomerium, which owns the session).
    let signsOut: Bool

    /// The templates are constants of this binary, parsed once; `PortalPageTests` renders each,
    /// so one that does not parse fails the tests, never a server.
    private static let templates: MustacheLibrary = {
        // Before any template names it (a pragma naming an unknown type does not parse).
        MustacheContentTypes.register(PageEscaping(), named: PageEscaping.name)
        var library = MustacheLibrary()
        for (name, text) in PageTemplates.all {
            do {
                try library.register(text, named: name)
            } catch {
                preconditionFailure("portal template \(name) does not parse: \(error)")
            }
        }
        return library
    }()

    init(assets: PortalAssets, version: String, signsOut: Bool) {
        self.library = Self.templates
        self.assets = assets
        self.version = version
        self.signsOut = signsOut
    }

    /// The frame around a page.
    struct Chrome {
        struct User {
            let email: String
            let role: String
            let mfa: Bool
            let canSignOut: Bool
            /// The account has a password of its own to change (not a demo visitor's, nor one of
            /// an identity provider's only), and signs in here.
            var changesPassword = false
        }

        struct Link {
            let href: String
            let label: String
            let current: Bool
        }

        let user: User?
        let nav: [Link]
        let csrf: String
        let notice: String?
        let alert: String?
        let version: String
        /// The top bar's navigation and account, drawn from the above (`header(user:nav:csrf:)`).
        let header: String

        init(user: User?, nav: [Link], csrf: String, notice: String?, alert: String?, version: String) {
            self.user = user
            self.nav = nav
            self.csrf = csrf
            self.notice = notice
            self.alert = alert
            self.version = version
            header = Self.header(user: user, nav: nav, csrf: csrf)
        }
    }

    struct Page {
        let title: String
        let assets: [String: String]
        let chrome: Chrome
        let body: Any
    }

    func chrome(_ identity: Identity?, at path: String, csrf: String, notice: String? = nil, alert: String? = nil) -> Chrome {
        var nav: [Chrome.Link] = []
        if identity != nil {
            var links = [("/", "Dashboard"), ("/workspaces", "Workspaces"), ("/sessions", "Sessions"), ("/audit", "Audit")]
            if identity?.principal.isAdmin == true {
                links += [
                    ("/admin/users", "Users"), ("/admin/organizations", "Organisations"), ("/admin/workspaces", "Manage workspaces"),
                    ("/admin/policies", "Policies"), ("/admin/demos", "Demos"),
                ]
            }
            for (href, label) in links {
                let current = href == "/" ? path == "/" : path.hasPrefix(href)
                nav.append(.init(href: href, label: label, current: current))
            }
        }
        let user = identity.map { identity in
            Chrome.User(
                email: identity.principal.email, role: identity.principal.role.rawValue, mfa: identity.user.mfaEnabled,
                canSignOut: signsOut, changesPassword: signsOut && identity.user.passwordHash != nil)
        }
        return Chrome(user: user, nav: nav, csrf: csrf, notice: notice, alert: alert, version: version)
    }

    /// `template` rendered with `body` under `title`, as a response with the portal's headers.
    /// `frameSource` widens the content security policy's `frame-src` for the viewer.
    func render(
        _ template: String, title: String, chrome: Chrome, body: Any, status: HTTPResponse.Status = .ok,
        frameSource: String? = nil, connectSource: String? = nil
    ) -> Response {
        let page = Page(
            title: title,
            assets: ["stylesheet": assets.stylesheet.path, "script": assets.script.path, "streamViewer": assets.streamViewer.path],
            chrome: chrome, body: body)
        #if DEBUG
        PageFields.assertComplete(page)
        #endif
        let html = library.render(page, withTemplate: template) ?? "<!doctype html><title>NeoSC</title><p>This page could not be drawn.</p>"
        var response = Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
        Self.secure(&response.headers, frameSource: frameSource, connectSource: connectSource)
        return response
    }

    /// The headers every page answer carries (error pages and redirects included): nothing cached,
    /// scripts and styles from this origin only and no inline ones, no framing of NeoSC's pages,
    /// forms posted here only, no powerful features, a referrer to this origin only. No content
    /// sniffing comes with every answer, page or not (`BrowserPolicy`).
    /// `connectSource` adds an origin to `connect-src` (the viewer's stream, a `ws:`/`wss:` origin).
    static func secure(_ headers: inout HTTPFields, frameSource: String? = nil, connectSource: String? = nil) {
        headers[.contentSecurityPolicy] =
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'\(connectSource.map { " " + $0 } ?? ""); "
            + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; frame-src \(frameSource ?? "'none'")"
        headers[.cacheControl] = "no-store"
        // A referrer to this origin only: under `no-referrer` a browser sends `Origin: null` with a
        // form posted to the page's own origin, and over plain HTTP (to any host but localhost) no
        // `Sec-Fetch-Site` either, so the check of where a form came from (`CrossSiteRequests`)
        // could not tell NeoSC's own forms from another site's.
        headers[.referrerPolicy] = "same-origin"
        headers[.permissionsPolicy] = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
    }

    /// `text` as one query value or path segment of a link: everything but letters, digits, `-`
    /// and `_` percent-encoded (so never `.` or `..` as a segment; ids are NeoSC's own, but never
    /// trust a shape).
    static func linkComponent(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: linkSafe) ?? ""
    }

    private static let linkSafe = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_"))

    /// A `303 See Other` to `location`, with the page headers.
    static func redirect(to location: String) -> Response {
        var response = Response(status: .seeOther, headers: [.location: location])
        secure(&response.headers)
        return response
    }
}

// The frame's values name their fields for the templates (`MustacheParent`): swift-mustache
// otherwise finds a field by reflection (`Mirror`), which was a quarter of the dashboard's time.

extension PageRenderer.Page: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "title": title
        case "assets": assets
        case "chrome": chrome
        case "body": body
        default: nil
        }
    }
}

extension PageRenderer.Chrome: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "user": user
        case "nav": nav
        case "csrf": csrf
        case "notice": notice
        case "alert": alert
        case "version": version
        case "header": header
        default: nil
        }
    }
}

extension PageRenderer.Chrome.User: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "email": email
        case "role": role
        case "mfa": mfa
        case "canSignOut": canSignOut
        case "changesPassword": changesPassword
        default: nil
        }
    }
}

extension PageRenderer.Chrome.Link: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "href": href
        case "label": label
        case "current": current
        default: nil
        }
    }
}

extension ShownTime: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "iso": iso
        case "utc": utc
        case "relative": relative
        default: nil
        }
    }
}

extension HTTPField.Name {
    static let permissionsPolicy = Self("Permissions-Policy")!
}

/// A time as pages show it: relative words, the exact UTC time on hover, and the machine form.
struct ShownTime {
    let iso: String
    let utc: String
    let relative: String

    init(_ date: Date, now: Date) {
        // `.iso8601` formatting and two replacements were a twentieth of the dashboard's time.
        var buffer = ByteBuffer()
        AuditEventWriter.writeTimestamp(date, into: &buffer)
        let iso = String(buffer: buffer)  // 2026-12-02T17:05:53Z
        self.iso = iso
        utc = iso.prefix(10) + " " + iso.dropFirst(11).dropLast() + " UTC"
        relative = Self.words(date.timeIntervalSince(now))
    }

    static func words(_ interval: TimeInterval) -> String {
        let seconds = Int(abs(interval).rounded())
        let amount: String
        switch seconds {
        case ..<60: return interval < 0 ? "just now" : "in under a minute"
        case ..<3_600: amount = plural(seconds / 60, "minute")
        case ..<86_400: amount = plural(seconds / 3_600, "hour")
        default: amount = plural(seconds / 86_400, "day")
        }
        return interval < 0 ? amount + " ago" : "in " + amount
    }

    private static func plural(_ count: Int, _ unit: String) -> String {
        "\(count) \(unit)\(count == 1 ? "" : "s")"
    }
}

extension PageRenderer {
    private struct ProblemBody {
        let heading: String
        let message: String
        let next: String
        let nextLabel: String
    }

    /// The page for `problem`, with a way on (home when signed in, the sign-in page otherwise).
    func problem(_ problem: PageProblem, chrome: Chrome) -> Response {
        let signedIn = chrome.user != nil
        return render(
            "problem", title: problem.heading, chrome: chrome,
            body: ProblemBody(
                heading: problem.heading, message: problem.message, next: signedIn ? "/" : "/sign-in",
                nextLabel: signedIn ? "Go to the dashboard" : "Go to sign-in"),
            status: problem.status)
    }
}
