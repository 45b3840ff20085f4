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

    /// `GET /api/peers/{id}` (404: no such peer), and the e-mail of its `user_id` from
    /// `GET /api/users`.
    public func peer(_ peerID: String) async throws -> NetworkPeer? {
        struct Peer: Decodable {
            var connected: Bool?
            var user_id: String?
        }
        struct User: Decodable {
            var id: String
            var email: String?
        }
        let reply = try await get("/api/peers/\(FormEncoding.encode(peerID))")
        if reply.status == 404 { return nil }
        guard (200..<300).contains(reply.status), let peer = try? JSONDecoder().decode(Peer.self, from: reply.body) else {
            throw DomainError.unavailable("NetBird answered \(reply.status) looking up peer \(peerID)")
        }
        var email: String?
        if let owner = peer.user_id {
            let users = try await get("/api/users")
            guard (200..<300).contains(users.status), let list = try? JSONDecoder().decode([User].self, from: users.body) else {
                throw DomainError.unavailable("NetBird answered \(users.status) listing its users")
            }
            email = list.first { $0.id == owner }?.email
        }
        return NetworkPeer(id: peerID, connected: peer.connected == true, ownerEmail: email)
    }

    private func get(_ path: String) async throws -> OutboundHTTP.Reply {
        try await http.send(.GET, apiURL + path, headers: [("Authorization", "Token \(token)"), ("Accept", "application/json")])
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
