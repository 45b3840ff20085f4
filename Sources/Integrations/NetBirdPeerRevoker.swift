import Domain
import Foundation
import NIOHTTP1
import Services

/// Deletes a demo's peer through NetBird's management API (`DELETE /api/peers/{id}`,
/// `Authorization: Token <NETBIRD_API_TOKEN>`). A peer already gone (404) counts as revoked.
public struct NetBirdPeerRevoker: NetworkAccessRevoker, NetworkPeerDirectory {
    let apiURL: String
    let token: String
    let http: OutboundHTTP

    public init(apiURL: String, token: String, http: OutboundHTTP) {
        self.apiURL = apiURL.hasSuffix("/") ? String(apiURL.dropLast()) : apiURL
        self.token = token
        self.http = http
    }

    /// `GET /api/peers/{id}`: 200 with `"connected": true`; an unknown peer (404) is not connected.
    public func isConnected(_ peerID: String) async throws -> Bool {
        let reply = try await http.send(
            .GET, "\(apiURL)/api/peers/\(FormEncoding.encode(peerID))",
            headers: [("Authorization", "Token \(token)"), ("Accept", "application/json")])
        if reply.status == 404 { return false }
        guard (200..<300).contains(reply.status) else {
            throw DomainError.unavailable("NetBird answered \(reply.status) looking up peer \(peerID)")
        }
        struct Peer: Decodable { var connected: Bool? }
        return (try? JSONDecoder().decode(Peer.self, from: reply.body))?.connected == true
    }

    public func revokePeer(_ peerID: String) async throws {
        let reply = try await http.send(
            .DELETE, "\(apiURL)/api/peers/\(FormEncoding.encode(peerID))",
            headers: [("Authorization", "Token \(token)"), ("Accept", "application/json")])
        guard (200..<300).contains(reply.status) || reply.status == 404 else {
            throw DriverFailure(description: "NetBird answered \(reply.status) deleting peer \(peerID)")
        }
    }
}
