import Crypto
import Domain
import Foundation
import NIOHTTP1
import Services

/// `NEOSC_PROVISIONER=webhook`: POSTs `{"event": "provision"|"deprovision", "demo": {...}}` to
/// `NEOSC_PROVISION_URL` for Kasm, Guacamole or an operator's own service. The body is signed
/// with HMAC-SHA256 over `timestamp + "." + body` under `NEOSC_PROVISION_SECRET`, sent as
/// `X-NeoSC-Timestamp` and `X-NeoSC-Signature: sha256=<hex>`, so the receiver can reject forged
/// and replayed calls. A 2xx answers; a provision reply may carry `{"connection_url", "netbird_peer_id"}`.
public struct WebhookProvisioner: DemoProvisioner {
    let url: String
    let secret: SymmetricKey
    let http: OutboundHTTP
    let clock: WallClock

    public init(url: String, secret: String, http: OutboundHTTP, clock: WallClock = .system) {
        self.url = url
        self.secret = SymmetricKey(data: Data(secret.utf8))
        self.http = http
        self.clock = clock
    }

    struct Event: Encodable {
        var event: String
        var demo: Demo
        struct Demo: Encodable {
            var id: String
            var userID: String
            var workspaceID: String
            var workspaceType: String
            var expiresAt: Date
            var networkPeerID: String?
            /// `provision` only: a `session_recording` policy covers the visitor's sessions.
            var recording: Bool?
        }
    }

    struct Provisioned: Decodable {
        var connection_url: String?
        var netbird_peer_id: String?
    }

    public func provision(
        _ demo: DemoSession, workspace: Workspace, recording: Bool
    ) async throws -> (
        connectionURL: String?, networkPeerID: String?
    ) {
        let reply = try await post("provision", demo, recording: recording)
        let provisioned = try? JSONDecoder().decode(Provisioned.self, from: reply.body)
        return (provisioned?.connection_url ?? workspace.url, provisioned?.netbird_peer_id)
    }

    public func deprovision(_ demo: DemoSession) async throws {
        _ = try await post("deprovision", demo)
    }

    /// The API's wire format: snake_case keys, ISO-8601 UTC timestamps.
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()

    private func post(_ event: String, _ demo: DemoSession, recording: Bool? = nil) async throws -> OutboundHTTP.Reply {
        let body = try Self.encoder.encode(
            Event(
                event: event,
                demo: .init(
                    id: demo.id, userID: demo.userID, workspaceID: demo.workspaceID, workspaceType: demo.workspaceType,
                    expiresAt: demo.expiresAt, networkPeerID: demo.networkPeerID, recording: recording)))
        let timestamp = String(Int(clock.now().timeIntervalSince1970))
        let signature = Self.signature(timestamp: timestamp, body: body, secret: secret)
        let reply = try await http.send(
            .POST, url,
            headers: [
                ("Content-Type", "application/json"), ("X-NeoSC-Timestamp", timestamp),
                ("X-NeoSC-Signature", "sha256=" + signature), ("X-NeoSC-Event", event),
            ],
            body: body)
        guard (200..<300).contains(reply.status) else {
            throw DriverFailure(description: "provisioning webhook answered \(reply.status) to \(event)")
        }
        return reply
    }

    /// Hex HMAC-SHA256 of `timestamp.body`: what a receiver recomputes to check a call.
    public static func signature(timestamp: String, body: Data, secret: SymmetricKey) -> String {
        var message = Data(timestamp.utf8)
        message.append(UInt8(ascii: "."))
        message.append(body)
        return Hex.encode(HMAC<SHA256>.authenticationCode(for: message, using: secret))
    }
}
