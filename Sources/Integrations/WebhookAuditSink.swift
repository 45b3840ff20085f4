import Crypto
import Domain
import Foundation
import NIOHTTP1
import Services

/// Forwards audit entries to an HTTP endpoint: `POST` of `{"entries": [...]}` (each entry as the
/// API shows it, chain fields included), signed with HMAC-SHA256 under a shared secret:
///
///     X-NeoSC-Timestamp: <unix seconds>
///     X-NeoSC-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
///     Idempotency-Key: neosc-audit-<first seq>-<last seq>
///
/// A 2xx answer means the batch was taken; anything else, or no answer, is retried.
public struct WebhookAuditSink: AuditSink {
    public let name: String
    private let url: String
    private let secret: SymmetricKey
    private let http: OutboundHTTP
    private let clock: WallClock

    private struct Batch: Encodable {
        var entries: [AuditEvent]
    }

    public init(url: String, secret: Secret, http: OutboundHTTP, clock: WallClock) {
        self.url = url
        self.secret = SymmetricKey(data: Array(secret.value.utf8))
        self.http = http
        self.clock = clock
        // The cursor's name leaves out the query (a token there stays out of logs and the store,
        // and rotating it keeps the cursor).
        var target = URLComponents(string: url)
        target?.query = nil
        target?.fragment = nil
        name = "webhook:" + (target?.string ?? url)
    }

    public func deliver(_ entries: [AuditEvent]) async throws {
        guard let first = entries.first?.seal?.seq, let last = entries.last?.seal?.seq else { return }
        let body = try AuditEntryJSON.encoder.encode(Batch(entries: entries))
        let timestamp = String(Int64(clock.now().timeIntervalSince1970))
        let reply = try await http.send(
            .POST, url,
            headers: [
                ("Content-Type", "application/json"), ("X-NeoSC-Timestamp", timestamp),
                ("X-NeoSC-Signature", "sha256=" + Self.signature(of: body, at: timestamp, secret: secret)),
                ("Idempotency-Key", "neosc-audit-\(first)-\(last)"),
            ], body: body, readingAnswer: false)
        guard (200..<300).contains(reply.status) else {
            throw DomainError.unavailable("The audit webhook answered \(reply.status)")
        }
    }

    static func signature(of body: Data, at timestamp: String, secret: SymmetricKey) -> String {
        Hex.encode(HMAC<SHA256>.authenticationCode(for: Array((timestamp + ".").utf8) + body, using: secret))
    }
}
