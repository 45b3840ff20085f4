import Mustache
import Testing

@testable import Net

/// The top bar's navigation and account, drawn in Swift (`PageRenderer.Chrome.header`), are the
/// markup the layout's template drew before, byte for byte.
@Suite struct PageHeaderTests {
    /// The layout's top bar as it was a template (the brand's icon left out).
    static let template = """
        {{% CONTENT_TYPE: PORTAL_HTML}}<header class="topbar">
          <a class="brand" href="/">NeoSC</a>
          {{#chrome.user}}
          <nav aria-label="Main">
            <ul>
              {{#chrome.nav}}<li><a href="{{href}}"{{#current}} aria-current="page"{{/current}}>{{label}}</a></li>{{/chrome.nav}}
            </ul>
          </nav>
          <div class="who">
            <span class="email">{{email}}</span>
            <span class="badge">{{role}}</span>
            <span class="badge {{#mfa}}ok{{/mfa}}{{^mfa}}warn{{/mfa}}">{{#mfa}}MFA on{{/mfa}}{{^mfa}}MFA off{{/mfa}}</span>
            {{#changesPassword}}
            <a href="/account/password">Password</a>
            {{/changesPassword}}
            {{#canSignOut}}
            <form method="post" action="/sign-out" class="inline">
              <input type="hidden" name="csrf" value="{{chrome.csrf}}">
              <button type="submit" class="link">Sign out</button>
            </form>
            {{/canSignOut}}
          </div>
          {{/chrome.user}}
        </header>
        """

    typealias Chrome = PageRenderer.Chrome

    static func links(_ pairs: [(String, String)], current: String) -> [Chrome.Link] {
        pairs.map { Chrome.Link(href: $0.0, label: $0.1, current: $0.0 == current) }
    }

    @Test(
        "the top bar drawn in Swift is the template's, byte for byte: signed out, each role's links, MFA on and off, with and without sign-out and the password link, hostile text"
    )
    func sameAsTheTemplate() throws {
        MustacheContentTypes.register(PageEscaping(), named: PageEscaping.name)
        var library = MustacheLibrary()
        try library.register(Self.template, named: "bar")
        let everyone = [("/", "Dashboard"), ("/workspaces", "Workspaces"), ("/sessions", "Sessions"), ("/audit", "Audit")]
        let administrators = everyone + [("/admin/users", "Users"), ("/admin/policies", "Policies")]
        let hostile = "\"><img src=x onerror=alert(1)>'&\"\u{301}"
        var chromes = [Chrome(user: nil, nav: [], csrf: "c", notice: nil, alert: nil, version: "1")]
        for (email, role, links) in [
            ("ann@example.com", "user", Self.links(everyone, current: "/")),
            ("root@example.com", "admin", Self.links(administrators, current: "/admin/users")),
            (hostile, hostile, Self.links([(hostile, hostile), ("/x", "X")], current: hostile)),
            ("none@example.com", "neosc", []),
        ] {
            for mfa in [false, true] {
                for (canSignOut, changesPassword) in [(false, false), (true, false), (true, true)] {
                    chromes.append(
                        Chrome(
                            user: .init(email: email, role: role, mfa: mfa, canSignOut: canSignOut, changesPassword: changesPassword),
                            nav: links, csrf: canSignOut ? hostile : "token", notice: nil, alert: nil, version: "1"))
                }
            }
        }
        for chrome in chromes {
            let drawn = "<header class=\"topbar\">\n  <a class=\"brand\" href=\"/\">NeoSC</a>\n" + chrome.header + "</header>"
            #expect(drawn == library.render(["chrome": chrome], withTemplate: "bar"), "\(String(describing: chrome.user))")
        }
        #expect(chromes[1].header.contains("<span class=\"badge warn\">MFA off</span>"))
        #expect(!chromes.contains { $0.header.contains("<img") }, "text, never markup")
    }
}
