import Domain
import Foundation
import Hummingbird
import Mustache
import Services

/// `/`: the caller's figures (the same `Statistics` as `/api/stats`), what would raise the
/// security score, and the latest audit entries they may see (everyone's for administrators,
/// their own for anyone else, as `/api/audit-logs`).
struct DashboardPage {
    let statistics: Statistics
    let activity: ActivityCounter
    let renderer: PageRenderer
    let clock: WallClock

    /// At `/`, which is the sign-in page for anyone not signed in.
    func register(on open: RouterGroup<PageContext>) {
        open.get { request, context in
            guard context.identity != nil else { return PageRenderer.redirect(to: "/sign-in") }
            return try await show(request, context: SignedInPageContext(context: context))
        }
    }

    struct Body {
        let activeSessions: Int
        let sessionsLabel: String
        let availableWorkspaces: Int
        let securityScore: Int
        let signIns: Int
        let advice: [String]
        let hasAdvice: Bool
        let activityRows: String
        let hasActivity: Bool
        let charts: [ActivityChart]
    }

    @Sendable func show(_ request: Request, context: SignedInPageContext) async throws -> Response {
        let principal = context.principal
        // The figures live (a sign-in shows at once, as in the list below); the chart is kept a
        // minute per scope.
        let counted = try await activity.activity(for: principal)
        // The figures and the latest entries in one read of the store (`Store.overview`).
        let (figures, entries) = try await statistics.overview(
            for: principal, account: context.identity.user,
            recent: AuditQuery(userID: principal.isAdmin ? nil : principal.userID, limit: 10))
        let now = clock.now()
        let advice = Self.advice(figures, principal: principal, mfaEnabled: context.identity.user.mfaEnabled)
        let charts = [
            ActivityChart(title: "Last 24 hours, by hour (UTC)", series: counted.hours) { Self.hour($0) },
            ActivityChart(title: "Last 7 days, by day (UTC)", series: counted.days) { Self.day($0) },
        ]
        let body = Body(
            activeSessions: figures.activeSessions,
            sessionsLabel: figures.scope == .user ? "of your sessions active" : "sessions active (\(figures.scope.rawValue))",
            availableWorkspaces: figures.availableWorkspaces, securityScore: figures.securityScore, signIns: figures.logins24h,
            advice: advice, hasAdvice: !advice.isEmpty,
            activityRows: Self.rows(entries, now: now),
            hasActivity: !entries.isEmpty, charts: charts)
        return renderer.render(
            "dashboard", title: "Dashboard", chrome: renderer.chrome(context.identity, at: "/", csrf: context.csrfToken), body: body)
    }

    /// The recent-activity table's rows, written here rather than by the template: ten rows of
    /// seven lookups were two thirds of the dashboard's template work (swift-mustache resolves
    /// each name by dynamic casts down its context stack), a sixth of a view's CPU. Who and
    /// what are escaped as `{{name}}` would escape them.
    static func rows(_ entries: [AuditEvent], now: Date) -> String {
        var html = MarkupBytes(capacity: entries.count * 260)
        for entry in entries {
            let when = ShownTime(entry.timestamp, now: now)
            html.markup("<tr><td><time datetime=\"")
            html.text(when.iso)
            html.markup("\" title=\"")
            html.text(when.utc)
            html.markup("\">")
            html.text(when.relative)
            html.markup("</time></td><td>")
            html.text(Self.words(entry.action))
            html.markup("</td><td>")
            html.text(entry.userEmail ?? "—")
            html.markup("</td><td>")
            if entry.success {
                html.markup("<span class=\"pill ok\">✓ done</span>")
            } else {
                html.markup("<span class=\"pill danger\">✗ refused</span>")
            }
            html.markup("</td></tr>")
        }
        return html.string
    }

    /// `launch_workspace` as "launch workspace". Byte by byte: Foundation's
    /// `replacingOccurrences` (through `NSString`) was 2 % of a dashboard view for its ten rows.
    static func words(_ action: AuditAction) -> String {
        String(decoding: action.rawValue.utf8.map { $0 == UInt8(ascii: "_") ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
    }

    /// "14:00", in UTC.
    static func hour(_ date: Date) -> String {
        let parts = utc(date)
        return (parts.tm_hour < 10 ? "0" : "") + String(parts.tm_hour) + ":" + (parts.tm_min < 10 ? "0" : "") + String(parts.tm_min)
    }

    /// "Tue 1", in UTC.
    static func day(_ date: Date) -> String {
        let names = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let parts = utc(date)
        return names[Int(parts.tm_wday)] + " " + String(parts.tm_mday)
    }

    /// The calendar fields of `date` in UTC, by `gmtime_r`: nothing shared between event loops (a
    /// shared `DateFormatter` is not safe across threads) and no `Calendar` made for every label.
    private static func utc(_ date: Date) -> tm {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return parts
    }

    /// Plain sentences, each naming one thing that would raise the score.
    static func advice(_ figures: Statistics.Figures, principal: Principal, mfaEnabled: Bool) -> [String] {
        var advice: [String] = []
        if !mfaEnabled, principal.role != .demoUser {
            advice.append("Turn on a second factor for your account (an authenticator app): MFA coverage is 40 of the 100 points.")
        }
        if principal.isAdmin {
            if figures.totalUsers > figures.usersWithMFA {
                advice.append("\(figures.totalUsers - figures.usersWithMFA) of \(figures.totalUsers) active users have no second factor.")
            }
            if figures.policiesEnabled < figures.policiesTotal {
                advice.append(
                    "\(figures.policiesTotal - figures.policiesEnabled) of \(figures.policiesTotal) policies are switched off; enabled policies are 60 of the 100 points."
                )
            }
        }
        return advice
    }
}

extension DashboardPage.Body: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "activeSessions": activeSessions
        case "sessionsLabel": sessionsLabel
        case "availableWorkspaces": availableWorkspaces
        case "securityScore": securityScore
        case "signIns": signIns
        case "advice": advice
        case "hasAdvice": hasAdvice
        case "activityRows": activityRows
        case "hasActivity": hasActivity
        case "charts": charts
        default: nil
        }
    }
}
