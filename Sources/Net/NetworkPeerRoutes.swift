import Domain
import Foundation
import Hummingbird
import Services

/// `/api/users/me/netbird-peer`: the caller registers (or removes) the NetBird peer it works
/// from, checked with NetBird.
struct NetworkPeerRoutes {
    let peers: NetworkPeers

    struct Registration: Decodable {
        var peerID: String

        enum CodingKeys: String, CodingKey {
            case peerID = "peer_id"
        }
    }

    struct Registered: Encodable, Sendable {
        var message: String
        var peerID: String?

        enum CodingKeys: String, CodingKey {
            case message
            case peerID = "peer_id"
        }
    }

    func register(on group: RouterGroup<SignedInContext>) {
        group.post(use: registerPeer)
        group.delete(use: removePeer)
    }

    @Sendable func registerPeer(_ request: Request, context: SignedInContext) async throws -> JSONBody<Registered> {
        let body = try await request.decodeJSON(Registration.self, context: context)
        try await peers.register(body.peerID, for: context.principal, from: context.clientAddress)
        return JSONBody(Registered(message: "NetBird peer registered", peerID: body.peerID))
    }

    @Sendable func removePeer(_ request: Request, context: SignedInContext) async throws -> JSONBody<Registered> {
        try await peers.remove(for: context.principal, from: context.clientAddress)
        return JSONBody(Registered(message: "NetBird peer removed", peerID: nil))
    }
}
