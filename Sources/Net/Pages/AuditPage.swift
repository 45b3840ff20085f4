import Domain
import Foundation
import Hummingbird
import Services

/// `/audit`: the trail, newest first, 50 entries a page, filtered by user (administrators), action,
/// result and UTC days; and `/audit/export`, the filtered set as CSV or JSON lines. Who reads what
/// is `AuditRoutes.narrowed` (administrators everything, anyone else their own entries), and the
/// download is `AuditRoutes.export`, audited `audit_exported`: the API's own rules.
struct AuditPage {
    let store: any AuditStore
    let audit: AuditTrail
    let renderer: PageRenderer
    let clock: WallClock

    static let pageSize = 50

    func register(on signedIn: RouterGroup<SignedInPageContext>) {
        signedIn.get("audit", use: show)
        signedIn.get("audit/export", use: export)
        signedIn.head("audit/export", use: export)  // the download's headers, not a length of 0 (`AuditRoutes`)
    }

    /// The filters as the form sends them, kept as text to be shown back.
    struct Filters {
        var userID = ""
        var action = ""
        var success = ""
        var since = ""
        var until = ""
        var before = ""

        /// Which result is selected, for the form (templates see stored properties only).
        private(set) var anyResult = true
        private(set) var succeeded = false
        private(set) var refused = false

        init(_ request: Request, admin: Bool) {
            let parameters = request.uri.queryParameters
            func text(_ name: String) -> String { parameters.get(name).map { String($0.prefix(200)) } ?? "" }
            if admin { userID = text("user_id").trimmingCharacters(in: .whitespaces) }
            action = text("action").trimmingCharacters(in: .whitespaces)
            success = text("success")
            (anyResult, succeeded, refused) = (success.isEmpty, success == "true", success == "false")
            since = text("since")
            until = text("until")
            before = text("before")
        }

        /// The query they select, or the problem with each field that does not read.
        func query(limit: Int) -> (AuditQuery?, [String: String]) {
            var problems: [String: String] = [:]
            if !action.isEmpty, !AuditAction.isWellFormed(action) {
                problems["action"] = "An action is lower-case letters and underscores, such as launch_workspace."
            }
            if !userID.isEmpty, !Identifier.isWellFormed(userID) { problems["user_id"] = "A user's id: letters, digits, - and _." }
            let result: Bool? = success == "true" ? true : success == "false" ? false : nil
            if !success.isEmpty, result == nil { problems["success"] = "Any, succeeded (true) or refused (false)." }
            let from = since.isEmpty ? nil : Self.day(since)
            if !since.isEmpty, from == nil { problems["since"] = "A day as YYYY-MM-DD." }
            let to = until.isEmpty ? nil : Self.day(until).map { $0.addingTimeInterval(86_400) }
            if !until.isEmpty, to == nil { problems["until"] = "A day as YYYY-MM-DD." }
            if let from, let to, to <= from { problems["until"] = "The last day comes on or after the first." }
            guard problems.isEmpty else { return (nil, problems) }
            return (
                AuditQuery(
                    action: action.isEmpty ? nil : AuditAction(action), userID: userID.isEmpty ? nil : userID, success: result,
                    since: from, until: to, before: Identifier.isWellFormed(before) ? before : nil, limit: limit),
                [:]
            )
        }

        /// `YYYY-MM-DD` as the start of that day in UTC.
        static func day(_ text: String) -> Date? {
            let parts = text.split(separator: "-")
            guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
                let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]), (1...12).contains(month),
                (1...31).contains(day)
            else { return nil }
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            let components = DateComponents(year: year, month: month, day: day)
            guard let date = calendar.date(from: components), calendar.component(.day, from: date) == day else { return nil }
            return date
        }

        /// The filters as query parameters (`name=value&` each, values percent-encoded), the
        /// cursor left out.
        var parameters: String {
            [("user_id", userID), ("action", action), ("success", success), ("since", since), ("until", until)]
                .filter { !$0.1.isEmpty }
                .map { "\($0.0)=\(PageRenderer.linkComponent($0.1))&" }
                .joined()
        }
    }

    private struct Row {
        struct Detail {
            let key: String
            let value: String
        }

        let when: ShownTime
        let who: String
        let action: String
        let resource: String
        let success: Bool
        let address: String
        let details: [Detail]
    }

    private struct Body {
        let scope: String
        let admin: Bool
        let filters: Filters
        let problems: [String: String]
        let exportQuery: String
        let rows: [Row]
        let hasRows: Bool
        let older: String?
    }

    @Sendable func show(_ request: Request, context: SignedInPageContext) async throws -> Response {
        let principal = context.principal
        let filters = Filters(request, admin: principal.isAdmin)
        // One more than a page: whether there is an older page is known, not guessed.
        let (selection, problems) = filters.query(limit: Self.pageSize + 1)
        var fetched: [AuditEvent] = []
        if let selection {
            fetched = try await store.events(AuditRoutes.narrowed(selection, for: principal))
        }
        let events = Array(fetched.prefix(Self.pageSize))
        let now = clock.now()
        let rows = events.map { event in
            Row(
                when: ShownTime(event.timestamp, now: now), who: event.userEmail ?? event.userID ?? "—", action: event.action.rawValue,
                resource: event.resource ?? "—", success: event.success, address: event.ipAddress ?? "—",
                details: event.details.sorted { $0.key < $1.key }.map { Row.Detail(key: $0.key, value: $0.value) })
        }
        let older = fetched.count > Self.pageSize ? events.last.map { filters.parameters + "before=" + PageRenderer.linkComponent($0.id) } : nil
        let body = Body(
            scope: principal.isAdmin ? "Everyone's entries, newest first." : "Your own entries, newest first.",
            admin: principal.isAdmin, filters: filters, problems: problems, exportQuery: filters.parameters, rows: rows,
            hasRows: !rows.isEmpty, older: older)
        return renderer.render(
            "audit", title: "Audit trail", chrome: renderer.chrome(context.identity, at: "/audit", csrf: context.csrfToken), body: body,
            status: problems.isEmpty ? .ok : .unprocessableContent)
    }

    @Sendable func export(_ request: Request, context: SignedInPageContext) async throws -> Response {
        let format = try AuditExportFormat(try request.queryValue("format"))
        var filters = Filters(request, admin: context.principal.isAdmin)
        filters.before = ""
        let (selection, problems) = filters.query(limit: 1_000)
        guard let selection else {
            throw DomainError.invalid(problems.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: " "))
        }
        return try await AuditRoutes.export(
            AuditRoutes.narrowed(selection, for: context.principal), as: format, by: context.principal, in: context, store: store,
            audit: audit, headOnly: request.method == .head)
    }
}
