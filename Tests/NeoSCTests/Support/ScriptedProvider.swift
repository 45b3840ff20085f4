import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// An OpenID provider whose token endpoint answers what the test scripted: discovery and a
/// token endpoint on a loopback port of its own, ID tokens signed with `TestSigner`'s published
/// key (its JWKS is the provider's `jwks_uri`). Where `OIDCMock` plays a real provider, this one
/// lets a test put any claims (a wrong nonce, another role) in the ID token a code exchange
/// returns, or make the token endpoint fail.
final class ScriptedProvider: Sendable {
    enum Answer: Sendable {
        /// 200 with an ID token carrying these claims (`iss` is the provider's unless given).
        case idToken([String: any Sendable])
        /// This status and no token.
        case status(Int)
    }

    private struct State {
        var port = 0
        var answers: [Answer] = []
        /// The form fields of each token request, in order.
        var requests: [[String: String]] = []
    }

    private let state = Mutex(State())
    let signer: TestSigner

    private init(signer: TestSigner) {
        self.signer = signer
    }

    var issuer: String { "http://127.0.0.1:\(state.withLock { $0.port })" }
    var tokenRequests: [[String: String]] { state.withLock { $0.requests } }

    /// What the next token request gets (queued: one answer per request; none left → 400).
    func answerNext(_ answer: Answer) { state.withLock { $0.answers.append(answer) } }

    /// Claims for an ID token from this provider to `audience`, valid for `lifetime` from now.
    func claims(
        subject: String, audience: String, lifetime: TimeInterval = 300, extra: [String: any Sendable] = [:]
    ) -> [String: any Sendable] {
        signer.claims(subject: subject, audience: audience, lifetime: lifetime, extra: ["iss": issuer].merging(extra) { $1 })
    }

    private func tokenResponse(_ request: Request) async throws -> Response {
        let buffer = try await request.body.collect(upTo: 1 << 16)
        var fields: [String: String] = [:]
        for pair in String(buffer: buffer).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        let answer = state.withLock { state -> Answer in
            state.requests.append(fields)
            return state.answers.isEmpty ? .status(400) : state.answers.removeFirst()
        }
        switch answer {
        case .idToken(let claims):
            let token = signer.token(claims)
            return Self.json(#"{"access_token":"opaque","token_type":"Bearer","id_token":"\#(token)"}"#)
        case .status(let code):
            return Response(status: .init(code: code), body: .init(byteBuffer: ByteBuffer(string: #"{"error":"invalid_grant"}"#)))
        }
    }

    /// Runs `body` while the provider (and the signer whose keys it publishes) listen.
    static func with(_ body: @Sendable (ScriptedProvider) async throws -> Void) async throws {
        try await TestSigner.with { signer in
            let provider = ScriptedProvider(signer: signer)
            let router = Router()
            router.get(".well-known/openid-configuration") { _, _ -> Response in
                let issuer = provider.issuer
                return Self.json(
                    """
                    {"issuer":"\(issuer)","authorization_endpoint":"\(issuer)/authorize",\
                    "token_endpoint":"\(issuer)/token","jwks_uri":"\(signer.issuer)/jwks"}
                    """)
            }
            router.post("token") { request, _ in try await provider.tokenResponse(request) }
            try await LoopbackHTTPServer.serving(router, label: "scripted-provider") { port in
                provider.state.withLock { $0.port = port }
                try await body(provider)
            }
        }
    }

    private static func json(_ text: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
