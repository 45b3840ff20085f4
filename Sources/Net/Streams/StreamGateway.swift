import Domain
import Foundation
import HTTPTypes
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import Services

/// `GET /streams/{session_id}?ticket=…`, upgraded to a WebSocket: the stream of one workspace
/// session (issue #17). The ticket is redeemed during the handshake, before anything is dialled;
/// a refused one still gets the upgrade, then a close (1008) whose reason the viewer can show,
/// since a browser never sees the status of a failed handshake.
public struct StreamGateway: Sendable {
    static let pathPrefix = "/streams/"

    /// Whether NIO may take `head`, the first of its connection, for a WebSocket upgrade: it
    /// names `websocket` among its `Upgrade` protocols. NIO asks nothing more of it (no
    /// `Connection: upgrade`, any path: `shouldUpgrade` decides), and after the upgrade the
    /// connection's bytes are no longer HTTP, so a handler of HTTP parts must leave the pipeline
    /// at such a head: one left behind meets a frame and traps.
    static func mayUpgrade(_ head: HTTPRequestHead) -> Bool {
        head.headers[canonicalForm: "upgrade"].contains { $0.lowercased() == "websocket" }
    }

    let streams: WorkspaceStreams
    let trustedProxies: TrustedProxies
    let settings: StreamSettings

    public init(streams: WorkspaceStreams, trustedProxies: TrustedProxies, settings: StreamSettings = StreamSettings()) {
        self.streams = streams
        self.trustedProxies = trustedProxies
        self.settings = settings
    }

    /// The path of session `sessionID`'s stream, its ticket in the query.
    static func path(sessionID: String, ticket: String) -> String {
        pathPrefix + sessionID + "?ticket=" + ticket
    }

    /// The origin stream URLs start with: `wss://host` for an https public URL, `ws://host` for an
    /// http one; without one, the host the request named (if it looks like a host), over `ws://`.
    static func origin(publicURL: String?, authority: String?) -> String {
        if let publicURL, let components = URLComponents(string: publicURL), let host = components.host {
            let scheme = components.scheme?.lowercased() == "https" ? "wss" : "ws"
            return "\(scheme)://\(host)" + (components.port.map { ":\($0)" } ?? "")
        }
        let host = authority ?? ""
        let plausible =
            !host.isEmpty && host.utf8.count <= 255
            && host.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || ".-:[]".unicodeScalars.contains($0)) }
        return "ws://" + (plausible ? host : "127.0.0.1")
    }

    func shouldUpgrade(
        _ head: HTTPRequest, channel: any Channel, logger: Logger
    ) async -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        guard head.method == .get, let target = head.path, target.hasPrefix(Self.pathPrefix), target.utf8.count <= 512,
            let components = URLComponents(string: target)
        else { return .dontUpgrade }
        let sessionID = String(components.path.dropFirst(Self.pathPrefix.count))
        guard Identifier.isValidSlug(sessionID),
            let ticket = components.queryItems?.first(where: { $0.name == "ticket" })?.value, !ticket.isEmpty
        else { return .dontUpgrade }
        let address =
            trustedProxies.clientAddress(
                peer: channel.remoteAddress?.ipAddress, forwardedFor: head.headerFields[values: .xForwardedFor]) ?? "unknown"
        var headers = HTTPFields()
        // noVNC (and websockify before it) may ask for the `binary` subprotocol. A browser that
        // offered subprotocols fails a handshake whose answer names none, and would then never
        // see the close that says why it was refused: a refusal answers with the first offered.
        let offered = head.headerFields[values: .secWebSocketProtocol].flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }

        let streams = self.streams
        switch await streams.admit(ticket: ticket, sessionID: sessionID, from: address) {
        case .failure(let refusal):
            if let first = offered.first { headers[.secWebSocketProtocol] = first }
            // Audited whether or not the handshake completes (a prober may drop the connection).
            Task { await streams.audit(refusal) }
            return .upgrade(headers) { _, outbound, _ in
                try? await outbound.close(StreamRelay.CloseCode.refused, reason: refusal.detail)
            }
        case .success(let clearance):
            switch clearance.upstream.scheme {
            case .vnc:
                if offered.contains("binary") { headers[.secWebSocketProtocol] = "binary" }
            case .ws, .wss:
                // The browser's first choice, and only it, is asked of the upstream: KasmVNC speaks
                // `binary`, Guacamole `guacamole`.
                if let first = offered.first { headers[.secWebSocketProtocol] = first }
            }
            let (settings, answered) = (self.settings, headers[.secWebSocketProtocol])
            // Nothing is registered or recorded until the WebSocket is open: a handshake that
            // fails after this point leaves nothing behind.
            return .upgrade(headers) { inbound, outbound, _ in
                switch await streams.open(clearance) {
                case .failure(let refusal):
                    try? await outbound.close(StreamRelay.CloseCode.refused, reason: refusal.detail)
                    await streams.audit(refusal)
                case .success(let admission):
                    let relay = StreamRelay(
                        streams: streams, admission: admission, settings: settings, logger: logger,
                        upstreamProtocol: answered)
                    await relay.run(inbound: inbound, outbound: outbound, on: channel)
                }
            }
        }
    }
}
