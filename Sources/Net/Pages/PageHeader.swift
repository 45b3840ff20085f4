extension PageRenderer.Chrome {
    /// The top bar's part for someone signed in, its lines indented as in the layout: the
    /// navigation, then who is signed in (e-mail, role, whether a second factor is on), the link
    /// to change one's password and the sign-out form; nothing for anyone else. Drawn here rather than by the layout: its 20 to 40
    /// lookups (each link's three, the badge's four) were a third of a page's template work, on
    /// every page (swift-mustache resolves each name by dynamic casts down its context stack).
    /// The e-mail, role, labels, links and CSRF token are escaped as `{{name}}` would escape them.
    static func header(user: User?, nav: [Link], csrf: String) -> String {
        guard let user else { return "" }
        var html = MarkupBytes(capacity: 608 + nav.count * 72 + user.email.utf8.count)
        html.markup("  <nav aria-label=\"Main\">\n    <ul>\n      ")
        for link in nav {
            html.markup("<li><a href=\"")
            html.text(link.href)
            html.markup(link.current ? "\" aria-current=\"page\">" : "\">")
            html.text(link.label)
            html.markup("</a></li>")
        }
        html.markup("\n    </ul>\n  </nav>\n  <div class=\"who\">\n    <span class=\"email\">")
        html.text(user.email)
        html.markup("</span>\n    <span class=\"badge\">")
        html.text(user.role)
        html.markup(user.mfa ? "</span>\n    <span class=\"badge ok\">MFA on</span>\n" : "</span>\n    <span class=\"badge warn\">MFA off</span>\n")
        if user.changesPassword {
            html.markup("    <a href=\"/account/password\">Password</a>\n")
        }
        if user.canSignOut {
            html.markup("    <form method=\"post\" action=\"/sign-out\" class=\"inline\">\n      <input type=\"hidden\" name=\"csrf\" value=\"")
            html.text(csrf)
            html.markup("\">\n      <button type=\"submit\" class=\"link\">Sign out</button>\n    </form>\n")
        }
        html.markup("  </div>\n")
        return html.string
    }
}
