import Domain
import Foundation
import HTTPTypes
import Hummingbird
import Services

/// `POST /api/sessions/{id}/stream-ticket`: the owner of an active session gets a single-use
/// ticket, good for a few seconds from the address that asked, and the complete URL of the
/// WebSocket it opens (issue #17); the rules are `Services.WorkspaceStreams`'.
struct StreamRoutes {
    /// A ticket as the API shows it.
    struct TicketView: Encodable, Sendable {
        var ticket: String
        var sessionID: String
        /// The `ws://` or `wss://` URL to open, ticket included.
        var streamURL: String
        var expiresAt: Date

        /// `ticket` as answered to a request that named `authority` (the stream URL's host
        /// unless NeoSC has a public URL).
        init(_ ticket: WorkspaceStreams.Ticket, publicURL: String?, authority: String?) {
            self.ticket = ticket.ticket
            sessionID = ticket.sessionID
            streamURL =
                StreamGateway.origin(publicURL: publicURL, authority: authority)
                + StreamGateway.path(sessionID: ticket.sessionID, ticket: ticket.ticket)
            expiresAt = ticket.expiresAt
        }
    }

    let streams: WorkspaceStreams
    /// NeoSC's public URL (`NEOSC_PUBLIC_URL`), whose scheme and host the stream URL takes; nil:
    /// the request's own host, over `ws://`.
    let publicURL: String?

    func register(on sessions: RouterGroup<SignedInContext>) {
        sessions.post(":id/stream-ticket", use: ticket)
    }

    @Sendable func ticket(_ request: Request, context: SignedInContext) async throws -> JSONBody<TicketView> {
        let ticket = try await streams.ticket(for: try context.parameters.require("id"), by: context.principal, from: context.clientAddress)
        return JSONBody(TicketView(ticket, publicURL: publicURL, authority: request.head.authority), status: .created)
    }
}
