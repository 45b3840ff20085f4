import AsyncHTTPClient
import Domain
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Services

/// NeoSC's calls to other services (discovery, JWKS, token endpoints), on the server's own event
/// loops. Every call has a deadline, which the response's body must also meet (AsyncHTTPClient's
/// own ends with the response's head: a body sent a byte at a time would hold the call for as
/// long as the peer likes), and a bounded response; redirects are never followed, so a provider
/// cannot bounce a client secret to a host of its choosing. A peer that cannot be reached is
/// `unavailable` (503), never a crash.
public final class OutboundHTTP: Sendable {
    public struct Reply: Sendable {
        public var status: Int
        public var body: Data
    }

    /// A client that lives as long as the process, for tests and tools; `neosc serve` makes its
    /// own and shuts it down after the server has stopped.
    public static let shared = OutboundHTTP()

    private let client: HTTPClient
    private let timeout: TimeAmount
    private let maxResponseBytes = 1 << 20

    public init(timeout: Duration = .seconds(10), eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        let nanoseconds = timeout.nanoseconds
        self.timeout = .nanoseconds(nanoseconds)
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .nanoseconds(min(nanoseconds, 5_000_000_000)), read: .nanoseconds(nanoseconds)))
        configuration.decompression = .disabled
        self.client = HTTPClient(eventLoopGroup: eventLoopGroup, configuration: configuration)
    }

    public func shutdown() async throws {
        try await client.shutdown()
    }

    public func get(_ url: String, accept: String = "application/json") async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: accept)
        return try await execute(request)
    }

    /// POSTs `fields` as `application/x-www-form-urlencoded`, with HTTP Basic credentials when given.
    public func postForm(
        _ url: String, fields: [(String, String)], basicAuth: (user: String, password: String)?
    )
        async throws -> Reply
    {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        if let basicAuth {
            // RFC 6749 §2.3.1: both parts form-encoded before Basic encoding.
            let pair = "\(FormEncoding.encode(basicAuth.user)):\(FormEncoding.encode(basicAuth.password))"
            request.headers.add(name: "Authorization", value: "Basic \(Data(pair.utf8).base64EncodedString())")
        }
        request.body = .bytes(ByteBuffer(string: FormEncoding.encode(fields)))
        return try await execute(request)
    }

    /// Any other call: `method` on `url` with `headers` and an optional body. With
    /// `readingAnswer: false`, only the status counts: the answer's body is not read (the reply's
    /// is empty), so neither its size nor its pace can fail a call the peer has answered.
    public func send(
        _ method: HTTPMethod, _ url: String, headers: [(String, String)] = [], body: Data? = nil, readingAnswer: Bool = true
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        return try await execute(request, readingAnswer: readingAnswer)
    }

    private func execute(_ request: HTTPClientRequest, readingAnswer: Bool = true) async throws -> Reply {
        let host = URL(string: request.url)?.host ?? "the peer"
        let deadline = NIODeadline.now() + timeout
        do {
            let response = try await client.execute(request, deadline: deadline)
            // An answer whose body is not read is dropped here, which ends its connection.
            guard readingAnswer else { return Reply(status: Int(response.status.code), body: Data()) }
            let body = try await Self.collect(response.body, upTo: maxResponseBytes, by: deadline)
            return Reply(status: Int(response.status.code), body: Data(body.readableBytesView))
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw DomainError.unavailable("Could not reach \(host)")
        }
    }

    /// The whole body, or an error once `deadline` passes (the collection is cancelled, which
    /// ends the request).
    private static func collect(_ body: HTTPClientResponse.Body, upTo limit: Int, by deadline: NIODeadline) async throws -> ByteBuffer {
        try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask { try await body.collect(upTo: limit) }
            group.addTask {
                try await Task.sleep(for: .nanoseconds(max(0, (deadline - .now()).nanoseconds)))
                return nil
            }
            defer { group.cancelAll() }
            guard case .some(.some(let collected)) = try await group.next() else { throw HTTPClientError.deadlineExceeded }
            return collected
        }
    }
}

/// `application/x-www-form-urlencoded`, as HTML and OAuth define it.
package enum FormEncoding {
    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    package static func encode(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    package static func encode(_ fields: [(String, String)]) -> String {
        fields.map { "\(encode($0.0))=\(encode($0.1))" }.joined(separator: "&")
    }
}
