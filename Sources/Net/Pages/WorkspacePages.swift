import Domain
import Foundation
import Hummingbird
import Services

/// `/workspaces`: the catalogue the caller's role may see, as cards, and launching from it; the
/// pages a launch leads to (`/sessions/{id}/open` for `new_tab`, the viewer `/sessions/{id}/view`
/// for `iframe`). Visibility, launch rules, policies and audit are `WorkspaceSessions`' and the
/// catalogue's, as for `/api/workspaces`.
struct WorkspacePages {
    let catalogue: WorkspaceCatalogue
    let store: any Store
    let sessions: WorkspaceSessions
    let demos: DemoLifecycle
    let renderer: PageRenderer
    let clock: WallClock
    /// Workspace streams: a workspace with a `stream_upstream` is shown through noVNC on its stream.
    let streams: WorkspaceStreams
    let publicURL: String?

    func register(on signedIn: RouterGroup<SignedInPageContext>) {
        signedIn.get("workspaces", use: list)
        signedIn.post("workspaces/:id/launch", use: launch)
        signedIn.get("sessions/:id/open", use: open)
        signedIn.get("sessions/:id/view", use: view)
    }

    private struct Card {
        let id: String
        let name: String
        let type: String
        let description: String
        let cpu: Int
        let memory: Int
        let storage: Int
        let statusLabel: String
        let statusClass: String
        let activeSessions: Int
        let oneSession: Bool
        let launchable: Bool
        let unavailable: String
        let newTab: Bool
    }

    private struct ListBody {
        let cards: [Card]
        let hasCards: Bool
    }

    @Sendable func list(_ request: Request, context: SignedInPageContext) async throws -> Response {
        let principal = context.principal
        var workspaces = try await catalogue.workspaces(from: store)
        if principal.role == .demoUser {
            let demo = try await demos.demo(of: principal)
            workspaces = workspaces.filter { DemoAccess.shows($0, to: demo) }
        } else {
            workspaces = workspaces.filter { $0.isVisible(to: principal.role) }
        }
        let counts = try await sessions.activeCountsByWorkspace()
        let cards = workspaces.map { workspace in
            let count = counts[workspace.id] ?? 0
            let (label, style, why): (String, String, String) =
                switch workspace.status {
                case .available: ("Available", "ok", "")
                case .maintenance: ("Under maintenance", "warn", "Under maintenance: it cannot be launched until it is back.")
                case .comingSoon: ("Coming soon", "warn", "Not open yet.")
                }
            return Card(
                id: workspace.id, name: workspace.name, type: workspace.type, description: workspace.description, cpu: workspace.cpu,
                memory: workspace.memory, storage: workspace.storage, statusLabel: label, statusClass: style, activeSessions: count,
                oneSession: count == 1, launchable: workspace.status == .available, unavailable: why,
                newTab: workspace.launchMode == .newTab)
        }
        return renderer.render(
            "workspaces", title: "Workspaces", chrome: renderer.chrome(context.identity, at: "/workspaces", csrf: context.csrfToken),
            body: ListBody(cards: cards, hasCards: !cards.isEmpty))
    }

    /// Launches, then follows the workspace's launch mode: its viewer (`iframe`), or the page that
    /// opens its connection (`new_tab`; the form opened a new tab for it).
    @Sendable func launch(_ request: Request, context: SignedInPageContext) async throws -> Response {
        let launched = try await sessions.launch(
            try context.parameters.require("id"), by: context.principal, from: context.clientAddress)
        let id = PageRenderer.linkComponent(launched.session.id)
        return PageRenderer.redirect(to: launched.workspace.launchMode == .iframe ? "/sessions/\(id)/view" : "/sessions/\(id)/open")
    }

    private struct OpenBody {
        let name: String
        let url: String
    }

    @Sendable func open(_ request: Request, context: SignedInPageContext) async throws -> Response {
        let session = try await sessions.session(try context.parameters.require("id"), visibleTo: context.principal)
        guard session.status == .active else { throw PageRedirect(to: "/sessions/\(PageRenderer.linkComponent(session.id))/view") }
        let workspace = try await store.workspace(id: session.workspaceID)
        guard let workspace else { throw DomainError.notFound("Workspace not found") }
        return renderer.render(
            "open", title: "Opening \(workspace.name)",
            chrome: renderer.chrome(context.identity, at: "/workspaces", csrf: context.csrfToken),
            body: OpenBody(name: workspace.name, url: workspace.url))
    }

    private struct ViewerBody {
        let sessionID: String
        let name: String
        let url: String
        let active: Bool
        /// Whether the workspace has an address elsewhere to frame. A path on this host is NeoSC
        /// itself, whose answers refuse every frame: the viewer says so instead of a blank frame.
        let connectable: Bool
        let expiresAt: ShownTime?
        let endedBecause: String
        /// Shown through NeoSC's stream (noVNC) rather than framed.
        let streamed: Bool
    }

    /// The viewer: the workspace framed under a slim bar (name, when it ends, Stop); once the
    /// session has ended, why, and the way back. The frame may load the workspace's origin only.
    @Sendable func view(_ request: Request, context: SignedInPageContext) async throws -> Response {
        let session = try await sessions.session(try context.parameters.require("id"), visibleTo: context.principal)
        let workspace = try await store.workspace(id: session.workspaceID)
        let url = workspace?.url ?? ""
        let origin = Self.origin(of: url)
        let now = clock.now()
        let streamed = streams.isEnabled && workspace?.streamUpstream != nil
        return renderer.render(
            "viewer", title: session.workspaceName, chrome: renderer.chrome(context.identity, at: "/workspaces", csrf: context.csrfToken),
            body: ViewerBody(
                sessionID: session.id, name: session.workspaceName, url: url, active: session.status == .active,
                connectable: origin != nil, expiresAt: session.expiresAt.map { ShownTime($0, now: now) },
                endedBecause: Self.endedBecause(session), streamed: streamed),
            frameSource: streamed ? nil : origin,
            connectSource: streamed ? StreamGateway.origin(publicURL: publicURL, authority: request.head.authority) : nil)
    }

    /// Why a session ended, in words a user understands.
    static func endedBecause(_ session: WorkspaceSession) -> String {
        switch session.endReason ?? session.status.rawValue {
        case "stopped": "It was stopped."
        case "disconnected": "It was disconnected."
        case "logout": "You signed out."
        case "user_disabled": "The account was disabled."
        case "password_reset": "An administrator reset the account's password."
        case "password_changed": "The account's password was changed."
        case "workspace_deleted", "workspaces_reset": "The workspace was removed."
        case "max_duration", "expired": "It reached its maximum duration."
        case "idle_timeout": "It was idle for too long."
        case "demo_ended": "The demo is over."
        case "access_revoked": "Your role may no longer use this workspace."
        default: "It has ended."
        }
    }

    /// What `frame-src` allows for a workspace URL: its origin; nil for a path on this host (or
    /// anything else without an http(s) origin), which nothing may then frame.
    static func origin(of url: String) -> String? {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(), let host = components.host,
            ["http", "https"].contains(scheme), host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" })
        else { return nil }
        return "\(scheme)://\(host)" + (components.port.map { ":\($0)" } ?? "")
    }
}
