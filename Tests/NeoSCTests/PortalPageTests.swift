import Domain
import Foundation
import HTTPTypes
import HummingbirdTesting
import Mustache
import NIOCore
import Services
import TestSupport
import Testing

@testable import App
@testable import Net

/// A browser for the in-process test client: keeps the cookies NeoSC sets, sends them back, and
/// fills each form's CSRF token from the last page it read.
final class TestBrowser: @unchecked Sendable {
    let client: any TestClientProtocol
    private(set) var cookies: [String: String] = [:]
    private(set) var setCookieLines: [String] = []
    private(set) var lastPage = ""
    /// Sent with every request (Pomerium's assertion, say).
    var extraHeaders: HTTPFields = [:]

    init(_ client: any TestClientProtocol) {
        self.client = client
    }

    /// The CSRF token of the last page read.
    var csrf: String? {
        guard let range = lastPage.range(of: #"name="csrf" value="[0-9a-f]+"#, options: .regularExpression) else { return nil }
        return String(lastPage[range].split(separator: "\"").last ?? "")
    }

    @discardableResult
    func get(_ path: String, accept: String = "text/html") async throws -> Reply {
        try await exchange(.get, path, headers: [.accept: accept], body: nil)
    }

    /// Posts `fields` as a form, with the last page's CSRF token unless `fields` names one.
    @discardableResult
    func post(_ path: String, _ fields: [String: String] = [:]) async throws -> Reply {
        try await post(path, pairs: fields.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    /// Posts `pairs` in order, names repeated as checkboxes repeat them.
    @discardableResult
    func post(_ path: String, pairs: [(String, String)]) async throws -> Reply {
        var pairs = pairs
        if !pairs.contains(where: { $0.0 == "csrf" }), let csrf { pairs.append(("csrf", csrf)) }
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let text = pairs.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
        return try await exchange(.post, path, headers: [.contentType: "application/x-www-form-urlencoded"], body: ByteBuffer(string: text))
    }

    /// Posts `encoded` as the form's body as it is (its escapes and bytes unchecked), with the last
    /// page's CSRF token after it.
    @discardableResult
    func post(_ path: String, encoded: [UInt8]) async throws -> Reply {
        var body = ByteBuffer(bytes: encoded)
        if let csrf { body.writeString("&csrf=\(csrf)") }
        return try await exchange(.post, path, headers: [.contentType: "application/x-www-form-urlencoded"], body: body)
    }

    func forget(_ name: String) {
        cookies[name] = nil
    }

    func setCookie(_ name: String, _ value: String) {
        cookies[name] = value
    }

    private func exchange(_ method: HTTPRequest.Method, _ path: String, headers: HTTPFields, body: ByteBuffer?) async throws -> Reply {
        var headers = headers
        for field in extraHeaders { headers.append(field) }
        if !cookies.isEmpty {
            headers[.cookie] = cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
        }
        let response = try await client.execute(uri: path, method: method, headers: headers, body: body)
        let reply = Reply(status: response.status, headers: response.headers, text: String(buffer: response.body))
        for line in reply.headers[values: .setCookie] {
            setCookieLines.append(line)
            let pair = line.split(separator: ";", maxSplits: 1)[0].split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2 else { continue }
            let (name, value) = (String(pair[0]), String(pair[1]))
            cookies[name] = line.contains("Max-Age=0") ? nil : value
        }
        if reply.headers[.contentType]?.hasPrefix("text/html") == true { lastPage = reply.text }
        return reply
    }
}

extension TestClientProtocol {
    func send(_ method: HTTPRequest.Method, _ uri: String, headers: HTTPFields, body: String?) async throws -> Reply {
        let response = try await execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        return Reply(status: response.status, headers: response.headers, text: String(buffer: response.body))
    }
}

@Suite("Portal pages: signed in by cookie, every form checked, the API's rules and audit")
struct PortalPageTests {
    static func location(_ reply: Reply) -> String? { reply.headers[.location] }

    /// An administrator creates `fields` through the API; then a `neosc` account `email` signs in
    /// through the pages.
    static func catalogue(
        with fields: [String: Any], _ harness: Harness, _ client: some TestClientProtocol, member email: String
    ) async throws -> TestBrowser {
        let admin = try await harness.account(.admin).token
        let created = try await client.send(.post, "/api/workspaces", token: admin, json: body(fields))
        #expect(created.status == .created, "\(created.text)")
        _ = try await harness.account(.neosc, email: email)
        let browser = TestBrowser(client)
        try await signIn(browser, email)
        return browser
    }

    static func signIn(_ browser: TestBrowser, _ email: String) async throws {
        try await browser.get("/sign-in")
        let signedIn = try await browser.post("/sign-in", ["email": email, "password": Harness.password])
        #expect(signedIn.status == .seeOther, "\(signedIn.text)")
        #expect(location(signedIn) == "/")
    }

    @Test("signed out, every page leads to sign-in; pages carry a strict policy and no cache")
    func signedOut() async throws {
        try await Harness.run { _, client in
            let browser = TestBrowser(client)
            for path in ["/", "/workspaces", "/sessions"] {
                let reply = try await browser.get(path)
                #expect(reply.status == .seeOther && Self.location(reply) == "/sign-in", "\(path): \(reply.status)")
            }
            let page = try await browser.get("/sign-in")
            #expect(page.status == .ok)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            let policy = try #require(page.headers[.contentSecurityPolicy])
            for directive in ["default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self'"] {
                #expect(policy.contains(directive), "\(policy)")
            }
            #expect(!policy.contains("unsafe-inline"))
            #expect(page.headers[.cacheControl] == "no-store")
            // Once each: a page's own headers and the ones every answer gets are not doubled.
            #expect(page.headers[HTTPField.Name("Referrer-Policy")!] == "same-origin", "a referrer to this origin only: its forms carry their Origin")
            #expect(page.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
            #expect(page.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
            #expect(page.headers[HTTPField.Name("Strict-Transport-Security")!] == "max-age=63072000")
            #expect(page.headers[HTTPField.Name("Permissions-Policy")!] != nil)
            #expect(page.text.contains(#"<label for="email">"#) && page.text.contains(#"<label for="password">"#))
            let formCookie = try #require(browser.setCookieLines.first { $0.hasPrefix("neosc_form=") })
            #expect(formCookie.contains("HttpOnly") && formCookie.contains("SameSite=Strict") && formCookie.contains("Path=/"))

            // The stylesheet named in the page, cached for a year; an unknown page is a page.
            let stylesheet = try #require(page.text.firstMatch(of: /href="(\/assets\/portal-[0-9a-f]{12}\.css)"/)?.1)
            let css = try await browser.get(String(stylesheet), accept: "text/css")
            #expect(css.status == .ok && css.headers[.cacheControl] == "public, max-age=31536000, immutable")
            let missing = try await browser.get("/no-such-page")
            #expect(missing.status == .notFound && missing.text.contains("Page not found") && missing.text.contains(#"href="/sign-in""#))
            let apiMissing = try await browser.get("/api/no-such-route")
            #expect(apiMissing.status == .notFound && apiMissing.text == #"{"detail":"Not found"}"#, "the API answers JSON")
        }
    }

    @Test(
        "sign-in: a wrong password keeps the e-mail, never the password; a right one sets the session cookie, audited", arguments: StoreKind.allCases)
    func signInAndOut(kind: StoreKind) async throws {
        try await Harness.run(store: kind) { harness, client in
            let (user, _) = try await harness.account(.neosc, email: "nora@example.com")
            let browser = TestBrowser(client)
            try await browser.get("/sign-in")
            let wrong = try await browser.post("/sign-in", ["email": "nora@example.com", "password": "not the password 1"])
            #expect(wrong.status == .unauthorized)
            #expect(wrong.text.contains("Invalid credentials") && wrong.text.contains(#"value="nora@example.com""#))
            #expect(!wrong.text.contains("not the password 1"))

            try await Self.signIn(browser, "nora@example.com")
            let session = try #require(browser.setCookieLines.last { $0.hasPrefix("neosc_session=") })
            #expect(session.contains("HttpOnly") && session.contains("SameSite=Strict") && session.contains("Path=/"))
            #expect(!session.contains("Secure"), "plain HTTP on loopback")
            let token = try #require(browser.cookies["neosc_session"])
            #expect(
                try await client.send(.get, "/api/auth/me", headers: [.cookie: "neosc_session=\(token)"], body: nil).status == .unauthorized,
                "the API takes bearer tokens, never the cookie")
            #expect(try await client.send(.get, "/api/auth/me", token: token).status == .ok, "the cookie holds a NeoSC token")

            let dashboard = try await browser.get("/")
            #expect(dashboard.status == .ok && dashboard.text.contains("nora@example.com") && dashboard.text.contains("Dashboard"))
            #expect(dashboard.text.contains(#"aria-current="page">Dashboard"#))
            // The chart, drawn on the server from the trail: this sign-in is in the last hour and today.
            #expect(dashboard.text.components(separatedBy: #"<svg class="chart""#).count == 3)
            #expect(dashboard.text.components(separatedBy: ": 1 sign-ins</title>").count == 3, "one sign-in, in each chart")
            #expect(dashboard.text.contains("<summary>Show data</summary>"))

            // Signing out revokes the token on the server, so a copy of the cookie is worthless.
            let out = try await browser.post("/sign-out")
            #expect(out.status == .seeOther && Self.location(out) == "/sign-in?notice=signed-out")
            #expect(browser.cookies["neosc_session"] == nil)
            #expect(try await client.send(.get, "/api/auth/me", token: token).status == .unauthorized)
            browser.setCookie("neosc_session", token)
            let after = try await browser.get("/sessions")
            #expect(after.status == .seeOther && Self.location(after) == "/sign-in", "back after logout shows no private page")
            let actions = try await harness.store.events(AuditQuery(userID: user.id, limit: 20)).map(\.action)
            #expect(actions.contains(.login) && actions.contains(.logout))
            let failed = try await harness.store.events(AuditQuery(action: .loginFailed, limit: 5))
            #expect(failed.count == 1 && failed[0].userEmail == "nora@example.com")
        }
    }

    @Test("a form post without this browser's CSRF token changes nothing")
    func csrfIsChecked() async throws {
        try await Harness.run { harness, client in
            _ = try await harness.account(.neosc, email: "cleo@example.com")
            let browser = TestBrowser(client)
            try await Self.signIn(browser, "cleo@example.com")
            try await browser.get("/workspaces")
            for token in ["", "0000", String(repeating: "a", count: 64)] {
                let forged = try await browser.post("/workspaces/ws-linux-desktop/launch", ["csrf": token])
                #expect(forged.status == .forbidden, "\(forged.status)")
                #expect(forged.text.contains("This form has expired"))
            }
            // Another browser's token (its own session) does not work here either.
            let other = TestBrowser(client)
            _ = try await harness.account(.neosc, email: "mallory@example.com")
            try await Self.signIn(other, "mallory@example.com")
            try await other.get("/workspaces")
            let crossed = try await browser.post("/workspaces/ws-linux-desktop/launch", ["csrf": try #require(other.csrf)])
            #expect(crossed.status == .forbidden)
            #expect(try await harness.store.sessions(userID: nil, status: .active, limit: 10).isEmpty)
            // Before signing in, the form cookie's token: a sign-in posted without it is refused.
            let stranger = TestBrowser(client)
            let blind = try await stranger.post("/sign-in", ["email": "cleo@example.com", "password": Harness.password])
            #expect(blind.status == .forbidden && stranger.cookies["neosc_session"] == nil)
        }
    }

    /// A sign-in in a browser already signed in (a demo started, another account, the same one
    /// again) replaces the cookie's token: the token it held is revoked, since nothing in that
    /// browser could revoke it any more, and a demo visitor's demo ends as its sign-out ends it.
    @Test("a new sign-in in a signed-in browser revokes the session it replaces; a visitor's demo ends")
    func aNewSignInRevokesTheSessionItReplaces() async throws {
        try await Harness.run(.router, { $0.demo.enabled = true }) { harness, client in
            _ = try await harness.account(.admin, email: "ada@example.com")
            _ = try await harness.account(.neosc, email: "cleo@example.com")
            let browser = TestBrowser(client)
            try await Self.signIn(browser, "ada@example.com")
            let administrators = try #require(browser.cookies["neosc_session"])
            try await browser.get("/demo")
            let started = try await browser.post("/demo", ["workspace_type": "browser"])
            #expect(started.status == .seeOther, "\(started.text)")
            let visitors = try #require(browser.cookies["neosc_session"])
            #expect(visitors != administrators)
            #expect(try await client.send(.get, "/api/auth/me", token: administrators).status == .unauthorized)
            let replaced = try await harness.store.events(AuditQuery(action: .logout)).first
            #expect(replaced?.userEmail == "ada@example.com" && replaced?.details["reason"] == "replaced")

            // The visitor signs in as someone: its demo ends with its token.
            try await browser.get("/")
            let signedIn = try await browser.post("/sign-in", ["email": "cleo@example.com", "password": Harness.password])
            #expect(signedIn.status == .seeOther, "\(signedIn.text)")
            #expect(try await client.send(.get, "/api/auth/me", token: visitors).status == .unauthorized)
            #expect(try await eventually { try await harness.store.activeDemoCount() == 0 }, "the visitor's demo ended")
            let signedInToken = try #require(browser.cookies["neosc_session"])
            #expect(try await client.send(.get, "/api/auth/me", token: signedInToken).status == .ok)
        }
    }

    /// A page on another port of this host, or a sibling subdomain, can set this host's form
    /// cookie and post its token (a sign-in to the attacker's account in a victim's browser): the
    /// browser's word that another site's page sent the form refuses it all the same.
    @Test("a form another site's page sent is refused, even with a form cookie and its token")
    func formsFromAnotherSiteAreRefused() async throws {
        try await Harness.run { harness, client in
            _ = try await harness.account(.neosc, email: "mallory@example.com")
            for crossing: HTTPFields in [
                [.secFetchSite: "same-site", .origin: "http://localhost:9999"], [.secFetchSite: "cross-site"],
                // A browser that does not send Sec-Fetch-Site: its Origin is not this host (the test
                // client's is `localhost`).
                [.origin: "http://localhost:9999"], [.origin: "null"],
            ] {
                let victim = TestBrowser(client)
                try await victim.get("/sign-in")
                victim.extraHeaders = crossing
                let forged = try await victim.post("/sign-in", ["email": "mallory@example.com", "password": Harness.password])
                #expect(forged.status == .forbidden, "\(crossing): \(forged.status)")
                #expect(forged.text.contains("This form came from another site"))
                #expect(victim.cookies["neosc_session"] == nil, "\(crossing)")
            }
            // This host's own pages, and a browser that says nothing, sign in.
            for own: HTTPFields in [[.secFetchSite: "same-origin"], [.origin: "http://localhost"], [:]] {
                let browser = TestBrowser(client)
                try await browser.get("/sign-in")
                browser.extraHeaders = own
                let signedIn = try await browser.post("/sign-in", ["email": "mallory@example.com", "password": Harness.password])
                #expect(signedIn.status == .seeOther, "\(own): \(signedIn.status)")
                #expect(browser.cookies["neosc_session"] != nil, "\(own)")
            }
        }
    }

    @Test("launching follows the launch mode; the viewer frames only the workspace's origin; ending is audited")
    func launchAndEnd() async throws {
        try await Harness.run { harness, client in
            let browser = try await Self.catalogue(
                with: [
                    "id": "ws-tab", "name": "Tabbed", "type": "web", "url": "https://apps.example.com:8443/crm",
                    "launch_mode": "new_tab", "allowed_roles": ["neosc"],
                ], harness, client, member: "lena@example.com")
            let catalogue = try await browser.get("/workspaces")
            #expect(catalogue.text.contains(#"action="/workspaces/ws-tab/launch" target="_blank""#))

            let framed = try await browser.post("/workspaces/ws-linux-desktop/launch")
            let viewerPath = try #require(Self.location(framed))
            #expect(framed.status == .seeOther && viewerPath.hasPrefix("/sessions/") && viewerPath.hasSuffix("/view"))
            let viewer = try await browser.get(viewerPath)
            // The default catalogue's address is a path on NeoSC itself, whose answers refuse every
            // frame: the viewer says so, frames nothing, and lets nothing be framed.
            #expect(!viewer.text.contains("<iframe") && viewer.text.contains("Nothing to show here yet"))
            #expect(viewer.text.contains(" data-active"), "the open session's viewer still sends heartbeats")
            #expect(viewer.text.contains("<code>/workspaces/linux-desktop</code>"))
            #expect(viewer.headers[.contentSecurityPolicy]?.hasSuffix("frame-src 'none'") == true)

            let tabbed = try await browser.post("/workspaces/ws-tab/launch")
            let openPath = try #require(Self.location(tabbed))
            #expect(openPath.hasSuffix("/open"))
            let opening = try await browser.get(openPath)
            #expect(opening.text.contains(#"<meta http-equiv="refresh" content="0;url=https://apps.example.com:8443/crm">"#))
            let tabViewer = try await browser.get(openPath.replacingOccurrences(of: "/open", with: "/view"))
            #expect(tabViewer.headers[.contentSecurityPolicy]?.hasSuffix("frame-src https://apps.example.com:8443") == true)
            #expect(tabViewer.text.contains(#"<iframe class="workspace-frame" src="https://apps.example.com:8443/crm""#))

            let sessions = try await browser.get("/sessions")
            #expect(sessions.text.components(separatedBy: "<span class=\"pill ok\">Active</span>").count == 3)
            let sessionID = String(viewerPath.dropFirst("/sessions/".count).dropLast("/view".count))
            let ended = try await browser.post("/sessions/\(sessionID)/end")
            #expect(ended.status == .seeOther && Self.location(ended) == "/sessions?notice=ended")
            #expect(try await harness.store.session(id: sessionID)?.status == .disconnected)
            let list = try await browser.get("/sessions?notice=ended")
            #expect(list.text.contains("The session has ended.") && list.text.contains("It was disconnected."))
            let afterwards = try await browser.get(viewerPath)
            #expect(afterwards.text.contains("This session has ended") && !afterwards.text.contains("<iframe"))
            #expect(!afterwards.text.contains("data-active"), "no heartbeats for an ended session")
            #expect(try await browser.post("/sessions/\(sessionID)/heartbeat").status == .conflict)
            #expect(try await browser.post("/sessions/\(sessionID)/end").status == .conflict, "a page, not a crash")
            let trail = try await harness.store.events(AuditQuery(limit: 50)).map(\.action)
            #expect(trail.filter { $0 == .launchWorkspace }.count == 2 && trail.contains(.disconnectSession))

            // Someone else's session is not found, whatever its id.
            let stranger = TestBrowser(client)
            _ = try await harness.account(.neosc, email: "otto@example.com")
            try await Self.signIn(stranger, "otto@example.com")
            #expect(try await stranger.get(viewerPath).status == .notFound)
        }
    }

    @Test("a streamed workspace's viewer draws it with noVNC, served from its installed place, on a ticket the page asks for")
    func streamedViewer() async throws {
        let noVNC = FileManager.default.fileExists(atPath: "/usr/share/novnc/core/rfb.js")
        try #require(noVNC, "Debian's novnc is not installed; run ./scripts/test (it installs it)")
        let streaming: (inout Configuration) -> Void = {
            $0.streamUpstreams = StreamUpstreamAllowlist(ranges: [AddressRange("127.0.0.0/8")!])
        }
        try await Harness.run(.router, streaming) { harness, client in
            let browser = try await Self.catalogue(
                with: [
                    "id": "ws-streamed", "name": "Streamed", "type": "linux", "url": "/workspaces/streamed",
                    "stream_upstream": "vnc://127.0.0.1:5901", "allowed_roles": ["neosc"],
                ], harness, client, member: "sven@example.com")
            _ = try await browser.get("/workspaces")
            let launched = try await browser.post("/workspaces/ws-streamed/launch")
            let viewerPath = try #require(Self.location(launched))
            let viewer = try await browser.get(viewerPath)
            #expect(viewer.text.contains(#"id="stream-screen""#) && !viewer.text.contains("<iframe"))
            #expect(viewer.text.contains(#"<script type="module" src="/assets/stream-viewer-"#))
            let policy = try #require(viewer.headers[.contentSecurityPolicy])
            #expect(policy.contains("connect-src 'self' ws://") && policy.hasSuffix("frame-src 'none'"), "\(policy)")
            #expect(PortalAssets.streamViewerJS.contains(#"import RFB from "/novnc/core/rfb.js";"#))

            // The ticket the page's script asks for: the browser's cookie and CSRF token, not a bearer.
            let sessionID = String(viewerPath.dropFirst("/sessions/".count).dropLast("/view".count))
            let ticket = try await browser.post("/sessions/\(sessionID)/stream-ticket")
            #expect(ticket.status == .created, "\(ticket.text)")
            let streamURL = try #require(ticket["stream_url"] as? String)
            #expect(streamURL.hasPrefix("ws://") && streamURL.contains("/streams/\(sessionID)?ticket="))
            let forged = TestBrowser(client)
            #expect(try await forged.post("/sessions/\(sessionID)/stream-ticket").status != .created)

            // noVNC itself, from Debian's package: its files, and nothing outside them.
            let rfb = try await browser.get("/novnc/core/rfb.js", accept: "*/*")
            #expect(rfb.status == .ok && rfb.text.contains("export default class RFB"))
            #expect(rfb.headers[.contentType]?.contains("javascript") == true)
            for escape in [
                "/novnc/../../etc/passwd", "/novnc/%2e%2e/%2e%2e/etc/passwd", "/novnc/core/missing.js", "/novnc/vnc.html",
                "/novnc/app/ui.js", "/novnc/core/../vnc.html",
            ] {
                let refused = try await browser.get(escape, accept: "*/*")
                #expect(refused.status == .badRequest || refused.status == .notFound, "\(escape): \(refused.status)")
                #expect(!refused.text.contains("root:"))
            }

            _ = try await browser.post("/sessions/\(sessionID)/end")
            let ended = try await browser.get(viewerPath)
            #expect(ended.text.contains("This session has ended") && !ended.text.contains("stream-screen"))
            #expect(!ended.text.contains(">Stop<"), "an ended session offers no Stop")
        }
        // Streaming off: no noVNC route.
        try await Harness.run { _, client in
            let answer = try await TestBrowser(client).get("/novnc/core/rfb.js", accept: "*/*")
            #expect(answer.status == .notFound)
        }
    }

    @Test("durations read as people say them: seconds, minutes, then hours")
    func durations() {
        #expect(DemoPages.duration(5) == "5 seconds" && DemoPages.duration(1) == "1 second")
        #expect(DemoPages.duration(30 * 60) == "30 minutes" && DemoPages.duration(119 * 60) == "119 minutes")
        #expect(DemoPages.duration(8 * 3_600) == "8 hours" && DemoPages.duration(2 * 3_600 + 60) == "2 hours 1 minute")
        #expect(DemoPages.duration(3 * 3_600 + 25 * 60) == "3 hours 25 minutes")
        #expect(PortalAssets.js.contains(#"h + " hours""#), "the viewer's countdown says hours too")
    }

    @Test("the chart's labels and numbers by arithmetic agree with Calendar and String(format:)")
    func chartArithmetic() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        let names = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        // Every day from 1960 to 2110 (leap years, centuries, 2000), at a time of day that moves.
        for day in stride(from: -3_653, to: 51_000, by: 1) {
            let date = Date(timeIntervalSince1970: Double(day) * 86_400 + Double((day * 7_919) % 86_400))
            let expected = names[calendar.component(.weekday, from: date) - 1] + " " + String(calendar.component(.day, from: date))
            if DashboardPage.day(date) != expected {
                Issue.record("\(date): \(DashboardPage.day(date)), not \(expected)")
                return
            }
        }
        #expect(DashboardPage.hour(Date(timeIntervalSince1970: 1_700_000_000)) == "22:13")
        for action in [AuditAction.launchWorkspace, .login, .auditExported, AuditAction("ünï_códé__x_"), AuditAction("")] {
            #expect(DashboardPage.words(action) == action.rawValue.replacingOccurrences(of: "_", with: " "), "\(action)")
        }
        for seconds in stride(from: -2_000_000_000.0, to: 4_000_000_000.0, by: 9_876_543.21) {
            let date = Date(timeIntervalSince1970: seconds)
            let shown = ShownTime(date, now: date)
            let iso = date.formatted(.iso8601)
            #expect(shown.iso == iso && shown.utc == iso.replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: " UTC"))
        }
        for value in [0.0, 0.04, 0.05, 1.25, 12.349, 36.0, 158.4, 603.96, 640.0] {
            #expect(ActivityChart.number(value) == String(format: "%.1f", value) || value == 0.05 || value == 1.25, "\(value)")
        }
        #expect(ActivityChart.number(-0.5) == "-0.5" && ActivityChart.number(10.06) == "10.1")
    }

    @Test("the recent-activity rows, written in Swift, escape who and what as the template would")
    func activityRowsAreEscaped() throws {
        let now = Date(timeIntervalSince1970: 1_790_000_000)
        let hostile = "\"><img src=x onerror=alert(1)>'&\"\u{301}"
        let rows = DashboardPage.rows(
            [
                AuditEvent(
                    timestamp: now.addingTimeInterval(-7_200), userID: nil, userEmail: hostile, action: .loginFailed,
                    ipAddress: nil, success: false),
                AuditEvent(
                    timestamp: now.addingTimeInterval(-30), userID: "u", userEmail: nil, action: AuditAction("odd_<b>_action"),
                    ipAddress: nil, success: true),
            ], now: now)
        #expect(!rows.contains("<img") && !rows.contains("<b>"))
        #expect(rows.contains("<td>&quot;&gt;&lt;img src=x onerror=alert(1)&gt;&#39;&amp;&quot;\u{301}</td>"))
        #expect(rows.contains("<td>odd &lt;b&gt; action</td>") && rows.contains("<td>—</td>"))
        MustacheContentTypes.register(PageEscaping(), named: PageEscaping.name)
        let template = try MustacheTemplate(string: "{{% CONTENT_TYPE: PORTAL_HTML}}{{.}}")
        #expect(rows.contains("<td>" + template.render(hostile) + "</td>"), "the same escaping as `{{name}}`")
        #expect(
            rows.hasPrefix(
                #"<tr><td><time datetime="2026-09-21T12:13:20Z" title="2026-09-21 12:13:20 UTC">2 hours ago</time></td><td>login failed</td>"#
            ))
        #expect(rows.contains(#"<span class="pill danger">✗ refused</span>"#) && rows.contains(#"<span class="pill ok">✓ done</span>"#))
        #expect(rows.components(separatedBy: "<tr>").count == 3 && rows.hasSuffix("</td></tr>"))
        #expect(DashboardPage.rows([], now: now).isEmpty)

        var digits = MarkupBytes(capacity: 0)
        for value in [0, 7, -7, 10, 1_000_000, Int.max, Int.min] {
            digits.number(value)
            digits.markup(" ")
        }
        #expect(digits.string == "0 7 -7 10 1000000 \(Int.max) \(Int.min) ")

        var tenths = MarkupBytes(capacity: 0)
        for value in [0, 12.5, -0.54, 0.04, 199.96, .nan, .infinity, -.infinity, 1e300] {
            tenths.tenths(value)
            tenths.markup(" ")
        }
        #expect(tenths.string == "0.0 12.5 -0.5 0.0 200.0 0.0 0.0 0.0 0.0 ", "one decimal; never a trap")
    }

    @Test("templates insert unescaped only the markup NeoSC writes itself (the top bar, charts and activity rows)")
    func unescapedInsertsAreNeoSCsOwn() {
        var found: Set<String> = []
        for (name, text) in PageTemplates.all {
            var rest = Substring(text)
            while let open = rest.range(of: "{{{") {
                guard let close = rest[open.upperBound...].range(of: "}}}") else {
                    Issue.record("\(name): an unclosed {{{")
                    break
                }
                found.insert(rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces))
                rest = rest[close.upperBound...]
            }
            #expect(!text.contains("{{&"), "\(name): the other unescaped form")
        }
        #expect(found == ["chrome.header", "svg", "tableRows", "body.activityRows"])
    }

    @Test("names from administrators are text, never markup")
    func namesAreEscaped() async throws {
        try await Harness.run { harness, client in
            let browser = try await Self.catalogue(
                with: [
                    "id": "ws-xss", "name": "<img src=x onerror=alert(1)>", "type": "web", "url": "/x",
                    "description": "\"><script>alert(2)</script>", "allowed_roles": ["neosc"],
                ], harness, client, member: "ivy@example.com")
            let page = try await browser.get("/workspaces")
            #expect(page.text.contains("&lt;img src=x onerror=alert(1)&gt;"))
            #expect(!page.text.contains("<img src=x") && !page.text.contains("<script>alert"))
            #expect(page.text.contains("&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"))
        }
    }

    @Test("an account with a second factor signs in in two steps on the pages too")
    func secondStep() async throws {
        let clock = ManualClock()
        try await Harness.run(clock: clock.wallClock) { harness, client in
            let (_, token) = try await harness.account(.neosc, email: "max@example.com")
            let secret = try await SecondFactorTests.enrollAndConfirm(client, token: token, clock: clock)
            clock.advance(60)
            let browser = TestBrowser(client)
            try await browser.get("/sign-in")
            let first = try await browser.post("/sign-in", ["email": "max@example.com", "password": Harness.password])
            #expect(first.status == .seeOther && Self.location(first) == "/sign-in/code")
            #expect(browser.cookies["neosc_session"] == nil && browser.cookies["neosc_mfa"] != nil)
            try await browser.get("/sign-in/code")
            let wrong = try await browser.post("/sign-in/code", ["code": "000000"])
            #expect(wrong.status == .unauthorized && wrong.text.contains("Invalid code"))
            let right = try await browser.post("/sign-in/code", ["code": try SecondFactorTests.code(secret, at: clock.now)])
            #expect(right.status == .seeOther && Self.location(right) == "/", "\(right.text)")
            #expect(browser.cookies["neosc_session"] != nil && browser.cookies["neosc_mfa"] == nil)
            let dashboard = try await browser.get("/")
            #expect(dashboard.text.contains("MFA on"))

            // A challenge that has gone (spent, expired, unknown) starts the sign-in again, its
            // cookie cleared, as on the enrolment pages.
            let stale = TestBrowser(client)
            try await stale.get("/sign-in")
            stale.setCookie("neosc_mfa", "mfa_gone")
            let gone = try await stale.post("/sign-in/code", ["code": "000000"])
            #expect(gone.status == .seeOther && Self.location(gone) == "/sign-in?notice=expired", "\(gone.status)")
            #expect(stale.cookies["neosc_mfa"] == nil)
            // Wrong codes are throttled, the wait said and sent (`Retry-After`) as the API sends it.
            let guesser = TestBrowser(client)
            try await guesser.get("/sign-in")
            try await guesser.post("/sign-in", ["email": "max@example.com", "password": Harness.password])
            try await guesser.get("/sign-in/code")
            var last = try await guesser.post("/sign-in/code", ["code": "000000"])
            for _ in 0..<10 where last.status != .tooManyRequests {
                try await guesser.get("/sign-in/code")
                last = try await guesser.post("/sign-in/code", ["code": "000000"])
            }
            #expect(last.status == .tooManyRequests && (last.headers[.retryAfter].flatMap(Int.init) ?? 0) > 0, "\(last.status)")
            #expect(last.text.contains("later. Try again in"), "\(last.text.suffix(1_500))")
        }
    }

    @Test("after an administrator's reset, signing in on the pages leads to choosing a password, then signs in with it")
    func passwordChosenAfterAReset() async throws {
        try await Harness.run { harness, client in
            let (rita, _) = try await harness.account(.neosc, email: "rita@example.com")
            let admin = try await harness.account(.admin).token
            let reset = try await client.send(.post, "/api/users/\(rita.id)/password-reset", token: admin)
            let given = try #require(reset["temporary_password"] as? String, "\(reset.text)")
            let browser = TestBrowser(client)
            try await browser.get("/sign-in")
            let stopped = try await browser.post("/sign-in", ["email": "rita@example.com", "password": given])
            #expect(stopped.status == .forbidden && stopped.text.contains("<h1>Choose a new password</h1>"), "\(stopped.text)")
            #expect(stopped.text.contains(#"value="rita@example.com""#) && !stopped.text.contains("POST /api"), "the e-mail kept, no API words")
            #expect(browser.cookies["neosc_session"] == nil)
            #expect(stopped.text.contains(#"autocomplete="current-password" required autofocus>"#), "the e-mail given, the cursor after it")

            let fields = ["email": "rita@example.com", "current_password": given, "new_password": "a phrase of my own"]
            for (changed, words, field) in [
                (["repeated_password": "a phrase of my 0wn"], "must be the new password again", "repeated_password"),
                (["new_password": "short", "repeated_password": "short"], "The new password must be 8 to 128 characters", "new_password"),
                (["current_password": "not what was given", "repeated_password": "a phrase of my own"], "is wrong", "current_password"),
            ] {
                let refused = try await browser.post("/sign-in/password", fields.merging(changed) { $1 })
                #expect(refused.status.code / 100 == 4 && refused.text.contains(words), "\(field): \(refused.status) \(refused.text)")
                #expect(
                    refused.text.range(of: #"id="\#(field)"[^>]*aria-invalid="true"[^>]*autofocus>"#, options: .regularExpression) != nil,
                    "\(field) marked and focused")
                #expect(refused.text.components(separatedBy: "autofocus").count == 2, "one field focused")
                #expect(browser.cookies["neosc_session"] == nil)
            }
            let chosen = try await browser.post("/sign-in/password", fields.merging(["repeated_password": "a phrase of my own"]) { $1 })
            #expect(chosen.status == .seeOther && Self.location(chosen) == "/", "\(chosen.text)")
            #expect(browser.cookies["neosc_session"] != nil)
            #expect(try await browser.get("/").text.contains("rita@example.com"))
            func login(_ password: String) async throws -> HTTPResponse.Status {
                try await client.send(.post, "/api/auth/login", json: body(["email": "rita@example.com", "password": password])).status
            }
            #expect(try await login("a phrase of my own") == .ok)
            #expect(try await login(given) == .unauthorized)
            #expect(try await harness.store.events(AuditQuery(action: .passwordChanged)).filter(\.success).count == 1)
        }
    }

    @Test("after a reset, an account with a second factor chooses its password on the pages with its code: none or a wrong one changes nothing")
    func passwordChosenWithASecondFactor() async throws {
        let clock = ManualClock()
        try await Harness.run(clock: clock.wallClock) { harness, client in
            let (tess, token) = try await harness.account(.neosc, email: "tess@example.com")
            let secret = try await SecondFactorTests.enrollAndConfirm(client, token: token, clock: clock)
            clock.advance(60)
            let admin = try await harness.account(.admin).token
            let reset = try await client.send(.post, "/api/users/\(tess.id)/password-reset", token: admin)
            let given = try #require(reset["temporary_password"] as? String, "\(reset.text)")
            let browser = TestBrowser(client)
            try await browser.get("/sign-in")
            let stopped = try await browser.post("/sign-in", ["email": "tess@example.com", "password": given])
            #expect(stopped.status == .forbidden && stopped.text.contains("<h1>Choose a new password</h1>"), "\(stopped.status)")
            let fields = [
                "email": "tess@example.com", "current_password": given, "new_password": "tess's own phrase",
                "repeated_password": "tess's own phrase",
            ]
            for (code, words) in [("", "send its code"), ("000000", "Invalid code")] {
                let refused = try await browser.post("/sign-in/password", fields.merging(["code": code]) { $1 })
                #expect(refused.status == .unauthorized && refused.text.contains(words), "\(code): \(refused.status)")
                #expect(
                    refused.text.range(of: #"id="code"[^>]*aria-invalid="true"[^>]*autofocus>"#, options: .regularExpression) != nil,
                    "the code field marked")
                #expect(browser.cookies["neosc_session"] == nil)
            }
            let chosen = try await browser.post(
                "/sign-in/password", fields.merging(["code": try SecondFactorTests.code(secret, at: clock.now)]) { $1 })
            #expect(chosen.status == .seeOther && Self.location(chosen) == "/", "\(chosen.text)")
            #expect(try await browser.get("/").text.contains("MFA on"), "signed in")
            let login = try await client.send(.post, "/api/auth/login", json: body(["email": "tess@example.com", "password": given]))
            #expect(login.status == .unauthorized, "the password given is spent")
        }
    }

    @Test("signed in, a password is changed on the pages: the current one checked, other sessions signed out, this one kept")
    func passwordChangedWhileSignedIn() async throws {
        try await Harness.run { harness, client in
            let (_, elsewhere) = try await harness.account(.neosc, email: "sam@example.com")
            let browser = TestBrowser(client)
            try await Self.signIn(browser, "sam@example.com")
            #expect(try await browser.get("/").text.contains(#"<a href="/account/password">Password</a>"#))
            let form = try await browser.get("/account/password")
            #expect(form.status == .ok && form.text.contains("<h1>Change your password</h1>") && !form.text.contains(#"name="email""#))
            let wrong = try await browser.post(
                "/account/password", ["current_password": "not my password", "new_password": "a new phrase", "repeated_password": "a new phrase"])
            #expect(
                wrong.status == .unprocessableContent && wrong.text.contains("The current password is not this account&#39;s password"),
                "\(wrong.text)")
            let changed = try await browser.post(
                "/account/password", ["current_password": Harness.password, "new_password": "a new phrase", "repeated_password": "a new phrase"])
            #expect(changed.status == .seeOther && Self.location(changed) == "/account/password?notice=changed", "\(changed.text)")
            #expect(try await browser.get("/account/password?notice=changed").text.contains("Your password was changed."))
            #expect(try await client.send(.get, "/api/auth/me", token: elsewhere).status == .unauthorized, "other sessions signed out")
            #expect(try await browser.get("/").status == .ok, "this one kept")
            #expect(try await harness.store.events(AuditQuery(action: .passwordChanged)).filter(\.success).count == 1)
        }
    }

    @Test("an account a policy wants a second factor of enrols one on the pages while signing in, and is signed in verified")
    func enrolmentWhileSigningIn() async throws {
        let clock = ManualClock()
        try await Harness.run(clock: clock.wallClock) { harness, client in
            let admin = try await harness.account(.admin).token
            _ = try await harness.account(.neosc, email: "ona@example.com")
            #expect(
                try await client.send(
                    .put, "/api/policies/pol-mfa-required", token: admin,
                    json: Harness.mfaRequiredAtSignIn
                ).status == .ok)
            let browser = TestBrowser(client)
            try await browser.get("/sign-in")
            let first = try await browser.post("/sign-in", ["email": "ona@example.com", "password": Harness.password])
            #expect(first.status == .seeOther && Self.location(first) == "/sign-in/enroll", "\(first.text)")
            #expect(browser.cookies["neosc_session"] == nil && browser.cookies["neosc_mfa"] != nil)
            let intro = try await browser.get("/sign-in/enroll")
            #expect(intro.status == .ok && intro.text.contains("requires a second factor") && !intro.text.contains("class=\"secret-key\""))
            let shown = try await browser.post("/sign-in/enroll", [:])
            #expect(shown.status == .ok && shown.headers[.cacheControl] == "no-store", "\(shown.text)")
            // The key as shown (grouped by four), read back as the authenticator would.
            let keyLine = try #require(shown.text.components(separatedBy: "<p class=\"secret-key\"><code>").dropFirst().first)
            let secret = String(keyLine.prefix { $0 != "<" }).replacingOccurrences(of: " ", with: "")
            #expect(shown.text.contains("otpauth://totp/NeoSC:ona@example.com?secret=\(secret)"))
            #expect(shown.text.components(separatedBy: "<li><code>").count - 1 == 10, "ten recovery codes")
            let wrong = try await browser.post("/sign-in/enroll/confirm", ["code": "000000"])
            #expect(wrong.status == .unprocessableContent && wrong.text.contains("aria-invalid=\"true\""), "\(wrong.text)")
            #expect(!wrong.text.contains(secret.prefix(8)), "the key is shown once")
            let right = try await browser.post("/sign-in/enroll/confirm", ["code": try SecondFactorTests.code(secret, at: clock.now)])
            #expect(right.status == .seeOther && Self.location(right) == "/", "\(right.text)")
            #expect(browser.cookies["neosc_session"] != nil && browser.cookies["neosc_mfa"] == nil)
            #expect(try await browser.get("/").text.contains("MFA on"))
        }
    }

    @Test("an enrolment page whose challenge has gone sends the browser back to sign in")
    func enrolmentChallengeGone() async throws {
        try await Harness.run { harness, client in
            let browser = TestBrowser(client)
            try await browser.get("/sign-in")
            #expect(Self.location(try await browser.get("/sign-in/enroll")) == "/sign-in")
            browser.setCookie("neosc_mfa", "neosc_mfa_" + String(repeating: "A", count: 43))
            let gone = try await browser.post("/sign-in/enroll", [:])
            #expect(gone.status == .seeOther && Self.location(gone) == "/sign-in?notice=expired", "\(gone.text)")
            #expect(browser.cookies["neosc_mfa"] == nil)
            #expect(try await browser.get("/sign-in?notice=expired").text.contains("That sign-in has expired."))
        }
    }

    @Test("with an https public URL the cookies are Secure and __Host- prefixed")
    func secureCookies() async throws {
        try await Harness.run(.router, { $0.secureCookies = true }) { harness, client in
            _ = try await harness.account(.neosc, email: "sue@example.com")
            let browser = TestBrowser(client)
            try await browser.get("/sign-in")
            #expect(browser.setCookieLines.allSatisfy { $0.hasPrefix("__Host-") && $0.contains("Secure") })
            let signedIn = try await browser.post("/sign-in", ["email": "sue@example.com", "password": Harness.password])
            #expect(signedIn.status == .seeOther)
            let session = try #require(browser.setCookieLines.last)
            #expect(session.hasPrefix("__Host-neosc_session=") && session.contains("Secure") && session.contains("Path=/"))
            #expect(!session.contains("Domain="), "a __Host- cookie names no domain")
        }
    }

    @Test("the audit page: everyone's for administrators, one's own otherwise; filters, pages, and downloads of the filtered set")
    func auditTrail() async throws {
        try await Harness.run { harness, client in
            let (admin, _) = try await harness.account(.admin, email: "ada@example.com")
            let (user, _) = try await harness.account(.neosc, email: "uma@example.com")
            // 99 and the user's one: two full pages, so the second must not offer a third.
            for index in 0..<99 {
                try await harness.portal.auditTrail.record(
                    .launchWorkspace, by: .account(admin), from: "10.0.0.\(index % 200)", resource: ("workspace", "ws-\(index)"))
            }
            try await harness.portal.auditTrail.record(
                .launchWorkspace, by: .account(user), from: "10.0.9.9", resource: ("workspace", "ws-uma"), details: ["note": "<b>x</b>"])

            let browser = TestBrowser(client)
            try await Self.signIn(browser, "uma@example.com")
            let own = try await browser.get("/audit?user_id=\(admin.id)")
            #expect(own.status == .ok && own.text.contains("Your own entries"))
            #expect(own.text.contains("workspace:ws-uma") && !own.text.contains("workspace:ws-1<"), "never another's, whatever the filter")
            #expect(own.text.contains("note=&lt;b&gt;x&lt;/b&gt;"), "details are text")
            let ownCSV = try await browser.get("/audit/export?format=csv", accept: "text/csv")
            #expect(ownCSV.status == .ok && ownCSV.headers[.contentDisposition]?.hasPrefix("attachment;") == true)
            #expect(!ownCSV.text.contains(admin.id), "the download is narrowed the same way")

            let reviewer = TestBrowser(client)
            try await Self.signIn(reviewer, "ada@example.com")
            let first = try await reviewer.get("/audit?action=launch_workspace")
            #expect(first.text.contains("Everyone&#39;s entries") || first.text.contains("Everyone's entries"))
            #expect(first.text.components(separatedBy: "<code>launch_workspace</code>").count - 1 == 50, "a page of 50")
            let older = try #require(first.text.firstMatch(of: /href="\/audit\?([^"]+)">Older entries/)?.1)
            let second = try await reviewer.get("/audit?" + String(older).replacingOccurrences(of: "&amp;", with: "&"))
            #expect(second.text.components(separatedBy: "<code>launch_workspace</code>").count - 1 == 50, "the rest")
            #expect(!second.text.contains("Older entries"), "no link to an empty page")

            let mine = try await reviewer.get("/audit?action=launch_workspace&user_id=\(user.id)")
            #expect(mine.text.components(separatedBy: "<code>launch_workspace</code>").count - 1 == 1)
            let csv = try await reviewer.get("/audit/export?action=launch_workspace&user_id=\(user.id)&format=csv", accept: "text/csv")
            let lines = csv.text.split(separator: "\r\n")
            #expect(lines.count == 2 && lines[1].contains("ws-uma"), "the file's rows match the filter: \(lines.count)")
            let jsonl = try await reviewer.get("/audit/export?action=launch_workspace&format=jsonl", accept: "application/x-ndjson")
            #expect(jsonl.text.split(separator: "\n").count == 100)
            #expect(try await harness.store.events(AuditQuery(action: .auditExported, limit: 10)).count == 3, "every download audited")

            let bad = try await reviewer.get("/audit?since=2026-13-40&action=DROP%20TABLE")
            #expect(bad.status == .unprocessableContent)
            #expect(bad.text.contains("A day as YYYY-MM-DD.") && bad.text.contains("lower-case letters and underscores"))
            #expect(bad.text.contains(#"value="DROP TABLE""#), "what was entered comes back")
            // A result that is neither: refused as the API refuses it, on the page and the export.
            let junk = try await reviewer.get("/audit?success=junk")
            #expect(junk.status == .unprocessableContent)
            #expect(junk.text.contains(#"id="success-error""#))
            #expect(try await reviewer.get("/audit/export?format=jsonl&success=junk", accept: "application/x-ndjson").status == .unprocessableContent)
        }
    }

    @Test("no CORS for pages, even from a listed origin; an oversize or broken form is a 4xx page; a throttled sign-in says how long")
    func hardening() async throws {
        try await Harness.run(.router, { $0.corsOrigins = ["https://portal.example.com"] }) { harness, client in
            _ = try await harness.account(.neosc, email: "hal@example.com")
            let browser = TestBrowser(client)
            try await Self.signIn(browser, "hal@example.com")
            let origin: HTTPFields = [.origin: "https://portal.example.com", .cookie: "neosc_session=\(browser.cookies["neosc_session"] ?? "")"]
            let page = try await client.send(.get, "/workspaces", headers: origin, body: nil)
            #expect(page.status == .ok && page.headers[.accessControlAllowOrigin] == nil)
            var preflight = origin
            preflight[.accessControlRequestMethod] = "POST"
            let options = try await client.send(.options, "/sign-out", headers: preflight, body: nil)
            #expect(options.headers[.accessControlAllowOrigin] == nil && options.status != .noContent)
            let api = try await client.send(.get, "/api/", headers: [.origin: "https://portal.example.com"], body: nil)
            #expect(api.headers[.accessControlAllowOrigin] == "https://portal.example.com")
            #expect(api.headers[.accessControlAllowCredentials] == nil, "the API takes bearer tokens, not cookies")

            try await browser.get("/workspaces")
            let huge = try await browser.post("/sessions/x/end", ["pad": String(repeating: "a", count: 70_000)])
            #expect(huge.status == .contentTooLarge && huge.text.contains("Too much"))

            let stranger = TestBrowser(client)
            try await stranger.get("/sign-in")
            var last = try await stranger.post("/sign-in", ["email": "hal@example.com", "password": "wrong password 1"])
            for _ in 0..<15 where last.status != .tooManyRequests {
                last = try await stranger.post("/sign-in", ["email": "hal@example.com", "password": "wrong password 1"])
            }
            #expect(last.status == .tooManyRequests)
            let wait = try #require(last.headers[.retryAfter].flatMap(Int.init))
            #expect(wait > 0 && last.text.contains("later. Try again in"), "a sentence, then the wait")
        }
    }

    @Test("the demo page: a visitor asks, gets the workspace at once with its countdown, and is told when it is over")
    func demoPage() async throws {
        let clock = ManualClock()
        try await Harness.run(
            .router, clock: clock.wallClock,
            {
                $0.demo.enabled = true
                $0.demo.lifetime = 5
            }
        ) { harness, client in
            let visitor = TestBrowser(client)
            let offer = try await visitor.get("/demo")
            #expect(offer.status == .ok && offer.text.contains(#"value="browser""#) && offer.text.contains("for 5 seconds"))
            let started = try await visitor.post("/demo", ["workspace_type": "browser", "email": "guest@example.com"])
            #expect(started.status == .seeOther && Self.location(started) == "/demo/session", "\(started.text)")
            // The cookie lasts as long as the demo may be extended to (2 h by default), not its
            // first 5 s: an administrator's extension must not find the browser's cookie gone.
            let cookie = visitor.setCookieLines.first { $0.hasPrefix("neosc_session=") }
            #expect(cookie?.contains("Max-Age=7200") == true, "\(cookie ?? "no cookie")")
            let session = try await visitor.get("/demo/session")
            #expect(session.text.contains("Your demo: Secure Browser") && session.text.contains("data-expires="))
            #expect(session.text.contains("Signing out ends the demo at once."), "a visitor is told before signing out")
            let cards = try await visitor.get("/workspaces")
            #expect(cards.text.components(separatedBy: "<li class=\"card workspace\">").count == 2, "its own workspace only")
            // No password form that could only be refused.
            let password = try await visitor.get("/account/password")
            #expect(password.status == .conflict && password.text.contains("A demo has no password"), "\(password.status)")
            #expect(try await harness.store.activeDemoCount() == 1)

            let refused = try await visitor.post("/demo", ["workspace_type": "no-such-type"])
            #expect(refused.status == .unprocessableContent && refused.text.contains("No workspace of type"))

            clock.advance(6)
            let over = try await visitor.get("/demo/session")
            #expect(over.text.contains("Your demo is over"))
            #expect(visitor.cookies["neosc_session"] == nil, "the cookie goes with it")
            #expect(try await visitor.get("/workspaces").status == .seeOther, "and the access")
        }
        try await Harness.run { _, client in
            let off = try await TestBrowser(client).get("/demo")
            #expect(off.status == .notFound, "no demo page when demos are off")
        }
    }

    @Test(
        "administration: bad fields each marked beside themselves, then created; edited; deleted after asking; policies switched with their score; others refused"
    )
    func administration() async throws {
        try await Harness.run { harness, client in
            _ = try await harness.account(.admin, email: "root@example.com")
            _ = try await harness.account(.neosc, email: "nemo@example.com")
            let admin = TestBrowser(client)
            try await Self.signIn(admin, "root@example.com")
            try await admin.get("/admin/workspaces")
            var fields = [
                "id": "Bad Id!", "name": "", "type": "web", "url": "javascript:alert(1)", "cpu": "lots", "memory": "4",
                "storage": "20", "max_session_minutes": "480", "status": "available", "launch_mode": "iframe", "allowed_roles": "neosc",
            ]
            let bad = try await admin.post("/admin/workspaces", fields)
            #expect(bad.status == .unprocessableContent)
            for field in ["id", "name", "url", "cpu"] {
                #expect(bad.text.contains("id=\"f-\(field)-error\""), "\(field) is marked")
            }
            #expect(!bad.text.contains(#"id="f-memory-error""#), "a right field is not")
            #expect(bad.text.contains(#"value="javascript:alert(1)""#), "what was entered comes back")
            #expect(try await harness.store.workspace(id: "Bad Id!") == nil)
            // Read field by field, this form is read as strictly as a decoded one.
            for (encoded, status) in [
                ("id=ws-odd&name=%FF&type=web&url=%2Fhealth", HTTPResponse.Status.unprocessableContent),
                ("id=ws-odd&name=Odd&type=web&url=%2Fhealth&description=50%", .badRequest),
            ] {
                try await admin.get("/admin/workspaces")
                let refused = try await admin.post("/admin/workspaces", encoded: Array(encoded.utf8))
                #expect(refused.status == status, "\(encoded): \(refused.status)")
            }
            #expect(try await harness.store.workspace(id: "ws-odd") == nil)

            fields.merge(["id": "ws-new", "name": "New one", "url": "https://new.example.com/", "cpu": "2"]) { $1 }
            let good = try await admin.post("/admin/workspaces", fields)
            #expect(good.status == .seeOther && Self.location(good) == "/admin/workspaces?notice=created", "\(good.text)")
            let created = try #require(try await harness.store.workspace(id: "ws-new"))
            #expect(created.name == "New one" && created.allowedRoles == [.neosc] && created.cpu == 2)

            try await admin.get("/admin/workspaces/ws-new")
            fields.merge(["name": "Renamed", "status": "maintenance", "launch_mode": "new_tab", "cpu": "0"]) { $1 }
            fields["id"] = nil
            let refusedEdit = try await admin.post("/admin/workspaces/ws-new", fields)
            #expect(refusedEdit.status == .unprocessableContent && refusedEdit.text.contains(#"id="f-cpu-error""#))
            fields["cpu"] = "4"
            fields["allowed_roles"] = nil
            let saved = try await admin.post(
                "/admin/workspaces/ws-new",
                pairs: fields.sorted { $0.key < $1.key } + [("allowed_roles", "neosc"), ("allowed_roles", "user")])
            #expect(saved.status == .seeOther, "checkboxes repeat a name, and the token survives them: \(saved.text)")
            let renamed = try #require(try await harness.store.workspace(id: "ws-new"))
            #expect(renamed.name == "Renamed" && renamed.status == .maintenance && renamed.launchMode == .newTab && renamed.cpu == 4)
            #expect(renamed.allowedRoles == [.neosc, .user])
            // A description of several lines is shown in a field that keeps them, so a form saved
            // unchanged changes nothing; a name is one line.
            _ = try await client.send(
                .put, "/api/workspaces/ws-new", token: harness.account(.admin).token, json: #"{"description":"line 1\nline 2"}"#)
            let form = try await admin.get("/admin/workspaces/ws-new")
            #expect(form.text.contains(#"name="description" rows="3">line 1\#nline 2</textarea>"#), "\(form.text)")
            fields["description"] = "line 1\r\nline 2"  // what a browser sends from a textarea
            fields["allowed_roles"] = "neosc"
            #expect(try await admin.post("/admin/workspaces/ws-new", fields).status == .seeOther)
            #expect(try await harness.store.workspace(id: "ws-new")?.description == "line 1\nline 2")
            fields["name"] = "Line A\nLine B"
            let twoLines = try await admin.post("/admin/workspaces/ws-new", fields)
            #expect(twoLines.status == .unprocessableContent && twoLines.text.contains("name must be one line"))

            let ask = try await admin.post("/admin/workspaces/ws-new/delete")
            #expect(ask.status == .ok && ask.text.contains("Delete Renamed?"))
            #expect(try await harness.store.workspace(id: "ws-new") != nil, "asking deletes nothing")
            let gone = try await admin.post("/admin/workspaces/ws-new/delete", ["confirm": "yes"])
            #expect(gone.status == .seeOther && Self.location(gone) == "/admin/workspaces?notice=deleted")
            #expect(try await harness.store.workspace(id: "ws-new") == nil)

            let policies = try await admin.get("/admin/policies")
            #expect(policies.text.contains("Security score now") && policies.text.contains("pol-session-recording"))
            let toggled = try await admin.post("/admin/policies/pol-session-recording/toggle", ["enabled": "true"])
            #expect(toggled.status == .seeOther)
            #expect(try await harness.portal.policies.policy("pol-session-recording").enabled)
            try await admin.get("/admin/policies")
            #expect(try await admin.post("/admin/policies/pol-session-recording/toggle", ["enabled": "true"]).status == .seeOther)
            #expect(try await harness.portal.policies.policy("pol-session-recording").enabled, "a second click sets, never flips back")
            let trail = try await harness.store.events(AuditQuery(limit: 50)).map(\.action)
            for action in [AuditAction.createWorkspace, .updateWorkspace, .deleteWorkspace, .togglePolicy] {
                #expect(trail.contains(action), "\(action) audited")
            }

            let member = TestBrowser(client)
            try await Self.signIn(member, "nemo@example.com")
            #expect(try await member.get("/admin/workspaces").status == .forbidden)
            try await member.get("/workspaces")
            #expect(try await member.post("/admin/policies/pol-mfa-required/toggle", ["enabled": "true"]).status == .forbidden)
            #expect(!(try await harness.portal.policies.policy("pol-mfa-required").enabled))
            #expect(try await harness.store.events(AuditQuery(action: .accessDenied, limit: 5)).count == 2)
            let nav = try await member.get("/")
            #expect(!nav.text.contains("/admin/"), "no administration links for others")
        }
    }

    @Test(
        "administration: a workspace's stream upstream is entered in its form, refused beside the field when the operator does not allow it, and removed by emptying it"
    )
    func administrationOfStreamUpstreams() async throws {
        let allowlist = StreamUpstreamAllowlist(ranges: [AddressRange("10.0.0.0/8")!])
        try await Harness.run(.router, { $0.streamUpstreams = allowlist }) { harness, client in
            _ = try await harness.account(.admin, email: "root@example.com")
            let admin = TestBrowser(client)
            try await Self.signIn(admin, "root@example.com")
            let list = try await admin.get("/admin/workspaces")
            #expect(list.text.contains(#"name="stream_upstream""#) && list.text.contains("empty: no stream through NeoSC"))
            var fields = [
                "id": "ws-lab", "name": "Lab", "type": "linux", "url": "/lab", "cpu": "2", "memory": "4", "storage": "20",
                "max_session_minutes": "480", "status": "available", "launch_mode": "iframe", "allowed_roles": "neosc",
                "stream_upstream": "vnc://192.0.2.1:5901",
            ]
            let refused = try await admin.post("/admin/workspaces", fields)
            #expect(refused.status == .unprocessableContent)
            #expect(refused.text.contains(#"id="f-stream-error""#) && refused.text.contains("is not among the upstreams"))
            #expect(!refused.text.contains(#"id="f-url-error""#), "only the wrong field is marked")
            #expect(refused.text.contains(#"value="vnc://192.0.2.1:5901""#), "what was entered comes back")
            #expect(try await harness.store.workspace(id: "ws-lab") == nil)

            fields["stream_upstream"] = " vnc://10.0.0.7:5901 "
            let created = try await admin.post("/admin/workspaces", fields)
            #expect(created.status == .seeOther, "\(created.text)")
            #expect(try await harness.store.workspace(id: "ws-lab")?.streamUpstream == "vnc://10.0.0.7:5901")

            let edit = try await admin.get("/admin/workspaces/ws-lab")
            #expect(edit.text.contains(#"value="vnc://10.0.0.7:5901""#), "the form shows the stored upstream")
            fields["id"] = nil
            fields["stream_upstream"] = "http://10.0.0.7"
            let bad = try await admin.post("/admin/workspaces/ws-lab", fields)
            #expect(bad.status == .unprocessableContent && bad.text.contains(#"id="f-stream-error""#))
            fields["stream_upstream"] = ""
            let emptied = try await admin.post("/admin/workspaces/ws-lab", fields)
            #expect(emptied.status == .seeOther, "\(emptied.text)")
            #expect(try await harness.store.workspace(id: "ws-lab")?.streamUpstream == nil, "emptied: no stream")
        }
    }

    @Test("behind Pomerium the pages take the identity from the verified assertion, show no sign-in form, and still check every form")
    func behindPomerium() async throws {
        try await TestSigner.with { signer in
            try await Harness.run(.router, PomeriumTests.settings(signer: signer)) { harness, client in
                let browser = TestBrowser(client)
                browser.extraHeaders = PomeriumTests.headers(PomeriumTests.assertion(signer, groups: ["neosc"]))
                let dashboard = try await browser.get("/")
                #expect(dashboard.status == .ok && dashboard.text.contains("paula@example.com"), "\(dashboard.text)")
                #expect(!dashboard.text.contains(#"action="/sign-out""#), "Pomerium owns the session")
                let signIn = try await browser.get("/sign-in")
                #expect(signIn.status == .seeOther && Self.location(signIn) == "/", "no sign-in form")
                try await browser.get("/workspaces")
                #expect(try await browser.post("/workspaces/ws-linux-desktop/launch", ["csrf": "forged"]).status == .forbidden)
                try await browser.get("/workspaces")
                let launched = try await browser.post("/workspaces/ws-linux-desktop/launch")
                #expect(launched.status == .seeOther && Self.location(launched)?.hasSuffix("/view") == true, "\(launched.text)")
                #expect(browser.cookies["neosc_session"] == nil, "no NeoSC session cookie behind Pomerium")
                let anonymous = try await client.send(.get, "/", headers: [.accept: "text/html"], body: nil)
                #expect(anonymous.status == .unauthorized, "without an assertion nothing is shown")
            }
        }
    }

    @Test(
        "registration through the pages: a bad field comes back marked with what was entered (never the password), then the account is created and signed in"
    )
    func registration() async throws {
        try await Harness.run { harness, client in
            let browser = TestBrowser(client)
            let signIn = try await browser.get("/sign-in")
            #expect(signIn.text.contains(#"href="/register""#))
            try await browser.get("/register")
            let short = try await browser.post(
                "/register", ["name": "Rita", "email": "rita@example.com", "password": "short", "organization": ""])
            #expect(short.status == .unprocessableContent && short.text.contains(#"value="rita@example.com""#))
            #expect(
                short.text.contains(
                    #"name="password" type="password" autocomplete="new-password" aria-describedby="password-help register-problem" aria-invalid="true""#
                ))
            #expect(!short.text.contains("value=\"short\""))
            let made = try await browser.post(
                "/register", ["name": "Rita", "email": "rita@example.com", "password": "a long enough phrase", "organization": ""])
            #expect(made.status == .seeOther && Self.location(made) == "/", "\(made.text)")
            #expect(try await browser.get("/").text.contains("rita@example.com"))
            #expect(try await harness.store.events(AuditQuery(action: .register, limit: 5)).count == 1)
        }
        try await Harness.run(.router, { $0.allowRegistration = false }) { _, client in
            let browser = TestBrowser(client)
            let signIn = try await browser.get("/sign-in")
            #expect(!signIn.text.contains(#"href="/register""#))
            #expect(try await browser.get("/register").status == .seeOther, "closed: no form")
        }
    }

    @Test("users and demos administered through the pages: roles, disabling, the last administrator kept; demos extended and ended; all audited")
    func people() async throws {
        try await Harness.run(.router, { $0.demo.enabled = true }) { harness, client in
            let (root, rootToken) = try await harness.account(.admin, email: "root@example.com")
            let (member, memberToken) = try await harness.account(.neosc, email: "mia@example.com")
            let admin = TestBrowser(client)
            try await Self.signIn(admin, "root@example.com")
            let list = try await admin.get("/admin/users")
            #expect(list.status == .ok && list.text.contains("mia@example.com") && list.text.contains("One active administrator"))
            // Search: e-mail or name, ignoring case; the text stays in the box, escaped; none → said so.
            let found = try await admin.get("/admin/users?search=MIA")
            #expect(found.status == .ok && found.text.contains("Role of mia@example.com") && !found.text.contains("Role of root@example.com"))
            #expect(found.text.contains(#"value="MIA""#))
            #expect(found.text.contains(#"value="neosc""#) && !found.text.contains(#"value="demo-user""#), "a demo's role is not offered")
            let none = try await admin.get("/admin/users?search=%3Cb%3Enobody")
            #expect(none.status == .ok && none.text.contains("No account matches.") && !none.text.contains("Role of mia@example.com"))
            #expect(none.text.contains("&lt;b&gt;nobody") && !none.text.contains("<b>nobody"))
            let long = try await admin.get("/admin/users?search=" + String(repeating: "a", count: 255))
            #expect(long.status == .unprocessableContent)
            // As a GET form sends it: a space is `+`, a `+` is `%2B`.
            let spaced = try await admin.get("/admin/users?search=test+neosc")
            #expect(spaced.text.contains("Role of mia@example.com") && spaced.text.contains(#"value="test neosc""#))
            #expect(try await admin.get("/admin/users?search=a%2Bb").text.contains(#"value="a+b""#))
            #expect(try await admin.get("/admin/users?search=mia%00").status == .unprocessableContent)
            #expect(try await client.send(.get, "/api/users?search=%00", token: rootToken).status == .unprocessableContent)
            let marks = String(repeating: "!\u{301}", count: 128).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            #expect(try await client.send(.get, "/api/users?search=" + marks, token: rootToken).status == .unprocessableContent)
            let api = try await client.send(.get, "/api/users?search=mia", token: rootToken)
            #expect(api.status == .ok && api.text.contains("mia@example.com") && !api.text.contains("root@example.com"), "\(api.text)")

            let alone = try await admin.post("/admin/users/\(root.id)", ["role": "user"])
            #expect(alone.status == .conflict && alone.text.contains("flash danger"), "\(alone.status)")
            #expect(try await harness.store.user(id: root.id)?.role == .admin, "the last administrator stays one")

            try await admin.get("/admin/users")
            #expect(try await admin.post("/admin/users/\(member.id)", ["role": "admin"]).status == .seeOther)
            #expect(try await harness.store.user(id: member.id)?.role == .admin)
            try await admin.get("/admin/users")
            #expect(try await admin.post("/admin/users/\(member.id)", ["disabled": "true"]).status == .seeOther)
            #expect(try await harness.store.user(id: member.id)?.disabled == true)
            #expect(try await client.send(.get, "/api/auth/me", token: memberToken).status == .unauthorized, "disabling revokes")
            try await admin.get("/admin/users")
            #expect(try await admin.post("/admin/users/\(member.id)", ["role": "superuser"]).status == .unprocessableContent)
            // Only what the buttons send: `1` or `on` is not read as "enable".
            for unclear in ["1", "on", "TRUE", ""] {
                try await admin.get("/admin/users")
                let refused = try await admin.post("/admin/users/\(member.id)", ["disabled": unclear])
                #expect(refused.status == .unprocessableContent && refused.text.contains("must be true or false"), "\(unclear)")
            }
            #expect(try await harness.store.user(id: member.id)?.disabled == true, "still disabled")

            let started = try await client.send(.post, "/api/demo/sessions", json: body(["workspace_type": "browser"]))
            let demoID = try #require(started["demo_session_id"] as? String, "\(started.text)")
            let before = try #require(try await harness.store.demo(id: demoID)).expiresAt
            let demos = try await admin.get("/admin/demos")
            #expect(demos.text.contains(demoID))
            let bad = try await admin.post("/admin/demos/\(demoID)/extend", ["minutes": "0"])
            #expect(bad.status == .unprocessableContent && bad.text.contains("minutes must be from 1 to 1440"))
            try await admin.get("/admin/demos")
            #expect(try await admin.post("/admin/demos/\(demoID)/extend", ["minutes": "10"]).status == .seeOther)
            let after = try #require(try await harness.store.demo(id: demoID)).expiresAt
            #expect(after > before)
            try await admin.get("/admin/demos")
            #expect(try await admin.post("/admin/demos/\(demoID)/end").status == .seeOther)
            let endedDemo = try #require(try await harness.store.demo(id: demoID))
            #expect(endedDemo.status != .active)
            // The end is the administrator's, as their filter finds it, with the visitor named.
            let endings = try await harness.store.events(AuditQuery(action: .demoSessionEnded, userID: root.id))
            #expect(endings.count == 1 && endings.first?.details["visitor"] == endedDemo.userID, "\(endings)")

            let trail = try await harness.store.events(AuditQuery(limit: 100)).map(\.action)
            #expect(trail.filter { $0 == .updateUser }.count == 2)
        }
    }

    @Test("the policies over every call apply to the pages as to the API: an allow-list refuses them, the way to sign in stays open")
    func pagesMeetCallPolicies() async throws {
        try await Harness.run { harness, client in
            let admin = try await harness.account(.admin).token
            _ = try await harness.account(.neosc, email: "otto@example.com")
            let browser = TestBrowser(client)
            try await Self.signIn(browser, "otto@example.com")
            let created = try await client.send(
                .post, "/api/policies", token: admin,
                json: body([
                    "id": "pol-office", "name": "Office", "kind": "address_allowlist", "scope": ["roles": ["neosc"]],
                    "settings": ["cidrs": ["10.0.0.0/8"]],
                ]))
            #expect(created.status == .created, "\(created.text)")
            let refused = try await browser.get("/workspaces")
            #expect(refused.status == .forbidden && refused.text.contains("Not allowed by policy"), "\(refused.status)")
            #expect(try await browser.get("/audit/export?format=csv").status == .forbidden)
            #expect(try await browser.get("/api/workspaces").status == .unauthorized, "the API, without a bearer token, is the API")
        }
    }

    @Test("organisations through the pages: a bad domain and a taken name are marked beside their fields, then one is created and audited")
    func organizations() async throws {
        try await Harness.run { harness, client in
            _ = try await harness.account(.admin, email: "root@example.com")
            _ = try await harness.account(.neosc, email: "ned@example.com")
            let admin = TestBrowser(client)
            try await Self.signIn(admin, "root@example.com")
            try await admin.get("/admin/organizations")
            let bad = try await admin.post("/admin/organizations", ["name": "Acme", "domain": "not a domain"])
            #expect(bad.status == .unprocessableContent && bad.text.contains(#"id="o-domain-error""#), "\(bad.status)")
            #expect(bad.text.contains(#"value="not a domain""#))
            let made = try await admin.post("/admin/organizations", ["name": "Acme", "domain": "acme.example"])
            #expect(made.status == .seeOther, "\(made.text)")
            try await admin.get("/admin/organizations")
            let taken = try await admin.post("/admin/organizations", ["name": "acme", "domain": ""])
            #expect(taken.status == .unprocessableContent && taken.text.contains(#"id="o-name-error""#))
            let list = try await admin.get("/admin/organizations")
            #expect(list.text.contains("<td>Acme</td><td>acme.example</td>"))
            #expect(try await harness.store.events(AuditQuery(action: .createOrganization, limit: 5)).count == 1)
            // A form whose bytes, or escaped bytes, are not UTF-8 is refused, not stored with
            // U+FFFD in their place; so is a malformed escape.
            for (encoded, status, detail) in [
                (Array("name=%FF%FEbad&domain=".utf8), HTTPResponse.Status.unprocessableContent, "Field &#39;name&#39; is not UTF-8 text"),
                (Array("name=".utf8) + [0xC3, 0x28, 0xA0] + Array("&domain=".utf8), .badRequest, "it is not UTF-8 text"),
                (Array("name=50%&domain=".utf8), .badRequest, "field &#39;name&#39; has a malformed %-escape"),
                (Array("name[]=Acme&domain=".utf8), .badRequest, "The form could not be read"),
            ] {
                try await admin.get("/admin/organizations")
                let refused = try await admin.post("/admin/organizations", encoded: encoded)
                #expect(refused.status == status && refused.text.contains(detail), "\(refused.status): \(refused.text.suffix(2_000))")
            }
            #expect(try await harness.store.events(AuditQuery(action: .createOrganization, limit: 5)).count == 1, "none made")
            let member = TestBrowser(client)
            try await Self.signIn(member, "ned@example.com")
            #expect(try await member.get("/admin/organizations").status == .forbidden)
        }
    }
}
