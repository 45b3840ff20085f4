import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TestSupport

/// `oidc-provider-mock` (PyPI) on a loopback port: a real OpenID provider (discovery, JWKS,
/// authorization code flow, RS256 ID tokens) standing in for Zitadel, with users whose claims
/// the test chooses.
final class OIDCMock: Sendable {
    private let process: LoopbackProcess

    /// - Parameter users: each user's claims, `sub` included, as the provider will put them in ID tokens.
    init(users: [[String: any Sendable]]) throws {
        let port = try FreePort.pick()
        var arguments = ["--port", String(port), "--host", "127.0.0.1"]
        for user in users {
            let json = try JSONSerialization.data(withJSONObject: user, options: [.sortedKeys])
            arguments += ["--user-claims", String(decoding: json, as: UTF8.self)]
        }
        process = LoopbackProcess(
            name: "oidc-provider-mock",
            executable: LoopbackProcess.installed("oidc-provider-mock", environment: "NEOSC_OIDC_MOCK"),
            arguments: arguments, port: port)
    }

    var issuer: String { "http://127.0.0.1:\(process.port)" }

    func start() async throws { try await process.start() }

    /// One provider for the whole run with `OIDCSignInTests.users` (a Python start-up costs
    /// seconds); the tests use distinct accounts, so they do not disturb each other. Stopped at
    /// exit, like every `LoopbackProcess`.
    static func shared() async throws -> OIDCMock {
        try await SharedMock.instance.mock()
    }

    private actor SharedMock {
        static let instance = SharedMock()
        private var started: Task<OIDCMock, any Error>?

        func mock() async throws -> OIDCMock {
            if let started { return try await started.value }
            let task = Task {
                let mock = try OIDCMock(users: OIDCSignInTests.users)
                try await mock.start()
                return mock
            }
            started = task
            return try await task.value
        }
    }

    /// Plays the user at the provider's authorization page: approves `authorizationURL` as
    /// `subject` and returns where the provider redirects the browser (carrying `code` and `state`).
    func approve(_ authorizationURL: String, as subject: String) async throws -> URLComponents {
        var request = HTTPClientRequest(url: authorizationURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(ByteBuffer(string: "sub=\(subject)"))
        let response = try await Self.client.execute(request, timeout: .seconds(10))
        guard response.status == .found, let location = response.headers.first(name: "Location"),
            let redirect = URLComponents(string: location)
        else {
            throw Refused(description: "authorization answered \(response.status) without a redirect")
        }
        return redirect
    }

    /// The authorization URL a single-page app would open, for the code + PKCE flow.
    func authorizationURL(clientID: String, redirectURI: String, state: String, nonce: String, codeChallenge: String) -> String {
        var components = URLComponents(string: issuer + "/oauth2/authorize")!
        components.queryItems = [
            .init(name: "response_type", value: "code"), .init(name: "client_id", value: clientID),
            .init(name: "redirect_uri", value: redirectURI), .init(name: "scope", value: "openid profile email"),
            .init(name: "state", value: state), .init(name: "nonce", value: nonce),
            .init(name: "code_challenge", value: codeChallenge), .init(name: "code_challenge_method", value: "S256"),
        ]
        return components.string!
    }

    struct Refused: Error, CustomStringConvertible {
        var description: String
    }

    /// Never follows redirects: the test reads them.
    static let client = HTTPClient(
        eventLoopGroup: HTTPClient.defaultEventLoopGroup,
        configuration: .init(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: .seconds(10))))
}

extension URLComponents {
    func query(_ name: String) -> String? { queryItems?.first { $0.name == name }?.value }
}
