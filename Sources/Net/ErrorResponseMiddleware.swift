import Domain
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1

/// Turns every error into `{"detail": "..."}` with the right status. Anything it does not
/// recognise is a bug: logged in full, answered with a bare 500. An unknown address outside the
/// API asked for by a browser (one that accepts HTML) gets the portal's 404 page instead.
public struct ErrorResponseMiddleware: RouterMiddleware {
    public typealias Context = PortalRequestContext
    let notFoundPage: (@Sendable (Request) -> Response)?

    public init() {
        notFoundPage = nil
    }

    init(notFoundPage: @escaping @Sendable (Request) -> Response) {
        self.notFoundPage = notFoundPage
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as DomainError {
            return Self.response(for: error)
        } catch let refusal as PolicyRefusal {
            return Self.response(for: refusal)
        } catch let error as any HTTPResponseError {
            if error.status == .notFound, let notFoundPage, Self.wantsPage(request) { return notFoundPage(request) }
            return Self.response(status: error.status, detail: Self.detail(for: error))
        } catch let error as HTTPParserError {
            // The request itself was broken on the wire (a body cut short of its Content-Length,
            // say): the client's fault, and nothing to log as ours.
            context.logger.debug("malformed request", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            return Self.response(status: .badRequest, detail: "The request could not be read (its body ended early or is malformed)")
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            context.logger.error(
                "unhandled error", metadata: ["error": "\(String(reflecting: error))", "path": "\(request.uri.path)"])
            return Self.response(status: .internalServerError, detail: "Internal server error")
        }
    }

    static func response(for error: DomainError) -> Response {
        switch error {
        case .malformed(let detail):
            return response(status: .badRequest, detail: detail)
        case .unauthenticated(let detail):
            var response = response(status: .unauthorized, detail: detail)
            response.headers[.wwwAuthenticate] = "Bearer"
            return response
        case .forbidden(let detail):
            return response(status: .forbidden, detail: detail)
        case .notFound(let detail):
            return response(status: .notFound, detail: detail)
        case .conflict(let detail):
            return response(status: .conflict, detail: detail)
        case .invalid(let detail):
            return response(status: .unprocessableContent, detail: detail)
        case .rateLimited(let detail, let retryAfter):
            var response = response(status: .tooManyRequests, detail: detail)
            response.headers[.retryAfter] = String(retryAfter)
            return response
        case .unavailable(let detail):
            return response(status: .serviceUnavailable, detail: detail)
        }
    }

    /// 403 `{detail, policy, remedy?, retry_at?}`; a rate limit's 429 also carries `Retry-After`
    /// and the IETF `RateLimit-Policy` / `RateLimit` fields (draft-ietf-httpapi-ratelimit-headers).
    static func response(for refusal: PolicyRefusal) -> Response {
        struct Body: Encodable {
            var detail: String
            var policy: String
            var remedy: String?
            var retryAt: Date?
        }
        var response = response(
            status: refusal.limit == nil ? .forbidden : .tooManyRequests,
            body: Body(detail: refusal.detail, policy: refusal.policyID, remedy: refusal.remedy, retryAt: refusal.retryAt))
        if let limit = refusal.limit {
            response.headers[.retryAfter] = String(limit.retryAfter)
            let name = "\"" + refusal.policyID + "\""
            response.headers[Self.rateLimitPolicy] = "\(name);q=\(limit.requests);w=\(limit.perSeconds)"
            response.headers[Self.rateLimit] = "\(name);r=0;t=\(limit.retryAfter)"
        }
        return response
    }

    static let rateLimitPolicy = HTTPField.Name("RateLimit-Policy")!
    static let rateLimit = HTTPField.Name("RateLimit")!

    static func response(status: HTTPResponse.Status, detail: String) -> Response {
        response(status: status, body: ["detail": detail])
    }

    /// `body` as JSON with `status` (a bare `{"detail":"error"}` should it not encode).
    static func response(status: HTTPResponse.Status, body: some Encodable) -> Response {
        let body = (try? PortalJSON.encoder.encode(body)) ?? Data(#"{"detail":"error"}"#.utf8)
        return Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8", .contentLength: String(body.count)],
            body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// A browser's request for a page: not the API's, and HTML accepted.
    static func wantsPage(_ request: Request) -> Bool {
        let path = request.uri.path
        return !(path == "/api" || path.hasPrefix("/api/")) && request.method == .get
            && (request.headers[.accept]?.contains("text/html") ?? false)
    }

    private static func detail(for error: any HTTPResponseError) -> String {
        if let error = error as? HTTPError, let body = error.body, !body.isEmpty {
            return body
        }
        switch error.status {
        case .notFound: return "Not found"
        case .contentTooLarge: return "Request body is larger than 1 MiB"
        case .methodNotAllowed: return "Method not allowed"
        default: return error.status.reasonPhrase
        }
    }
}
