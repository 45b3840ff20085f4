import Domain
import Foundation
import Hummingbird
import Services

/// `/sessions`: the caller's own sessions, active first, then the most recent; ending one, and the
/// viewer's heartbeat. The same `WorkspaceSessions` as `/api/sessions`.
struct SessionPages {
    let sessions: WorkspaceSessions
    let store: any Store
    let renderer: PageRenderer
    let clock: WallClock
    /// Workspace streams, for the viewer's tickets.
    let streams: WorkspaceStreams
    let publicURL: String?

    func register(on signedIn: RouterGroup<SignedInPageContext>) {
        signedIn.get("sessions", use: list)
        signedIn.post("sessions/:id/end", use: end)
        signedIn.post("sessions/:id/heartbeat", use: heartbeat)
        signedIn.post("sessions/:id/stream-ticket", use: streamTicket)
    }

    private struct Row {
        let id: String
        let workspaceName: String
        let statusLabel: String
        let statusClass: String
        let why: String?
        let started: ShownTime
        let ends: ShownTime?
        let active: Bool
        let viewable: Bool
    }

    private struct Body {
        let rows: [Row]
        let hasRows: Bool
    }

    static let notices = ["ended": "The session has ended."]

    @Sendable func list(_ request: Request, context: SignedInPageContext) async throws -> Response {
        let mine = try await sessions.sessions(visibleTo: context.principal, userID: context.principal.userID, status: nil, limit: 50)
        let viewable = Set(try await store.workspaces().filter { $0.launchMode == .iframe }.map(\.id))
        let now = clock.now()
        let ordered = mine.filter { $0.status == .active } + mine.filter { $0.status != .active }
        let rows = ordered.map { session in
            let active = session.status == .active
            return Row(
                id: session.id, workspaceName: session.workspaceName,
                statusLabel: active ? "Active" : session.status.rawValue.capitalized, statusClass: active ? "ok" : "",
                why: active ? nil : WorkspacePages.endedBecause(session), started: ShownTime(session.startedAt, now: now),
                ends: (session.endedAt ?? session.expiresAt).map { ShownTime($0, now: now) }, active: active,
                viewable: viewable.contains(session.workspaceID))
        }
        let notice = request.uri.queryParameters["notice"].flatMap { Self.notices[String($0)] }
        return renderer.render(
            "sessions", title: "My sessions",
            chrome: renderer.chrome(context.identity, at: "/sessions", csrf: context.csrfToken, notice: notice),
            body: Body(rows: rows, hasRows: !rows.isEmpty))
    }

    /// Ends the session (its owner or an administrator), audited `disconnect_session` as the API's.
    @Sendable func end(_ request: Request, context: SignedInPageContext) async throws -> Response {
        _ = try await sessions.disconnect(try context.parameters.require("id"), by: context.principal, from: context.clientAddress)
        return PageRenderer.redirect(to: "/sessions?notice=ended")
    }

    /// The viewer's stream ticket: what `POST /api/sessions/{id}/stream-ticket` answers, for the
    /// signed-in browser (its cookie and CSRF token instead of a bearer token).
    @Sendable func streamTicket(_ request: Request, context: SignedInPageContext) async throws -> Response {
        let ticket = try await streams.ticket(for: try context.parameters.require("id"), by: context.principal, from: context.clientAddress)
        let view = StreamRoutes.TicketView(ticket, publicURL: publicURL, authority: request.head.authority)
        var response = try JSONBody(view, status: .created).response(from: request, context: context)
        PageRenderer.secure(&response.headers)
        return response
    }

    /// The viewer is open: the session is in use. 409 once it has ended (the viewer then reloads
    /// and says why).
    @Sendable func heartbeat(_ request: Request, context: SignedInPageContext) async throws -> Response {
        _ = try await sessions.heartbeat(try context.parameters.require("id"), by: context.principal)
        var response = Response(status: .noContent)
        PageRenderer.secure(&response.headers)
        return response
    }
}
