import Domain
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1

/// Turns every error into `{"detail": "..."}` with the right status. Anything it does not
/// recognise is a bug: logged in full, answered with a bare 500. A browser's request for a page
/// (outside the API, accepting HTML: an unknown address, or a page whose identity could not be
/// read) gets the portal's page for the status instead.
public struct ErrorResponseMiddleware: RouterMiddleware {
    public typealias Context = PortalRequestContext
    /// Draws the page for a status and its sentence.
    let page: (@Sendable (Request, HTTPResponse.Status, String) -> Response)?

    public init() {
        page = nil
    }

    init(page: @escaping @Sendable (Request, HTTPResponse.Status, String) -> Response) {
        self.page = page
    }

    /// `response` as a page when the request wants one and a page is drawn here.
    private func asPage(_ response: Response, _ request: Request, detail: String) -> Response {
        guard let page, Self.wantsPage(request) else { return response }
        var answer = page(request, response.status, detail)
        for name in [HTTPField.Name.retryAfter] { if let value = response.headers[name] { answer.headers[name] = value } }
        return answer
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return try answer(error, to: request, in: context)
        }
    }

    /// The answer to a request that failed with `error`; a cancellation is thrown on.
    func answer(_ error: any Error, to request: Request, in context: Context) throws -> Response {
        do {
            throw error
        } catch let error as DomainError {
            return asPage(Self.response(for: error), request, detail: error.detail)
        } catch let refusal as PolicyRefusal {
            return asPage(Self.response(for: refusal), request, detail: refusal.detail)
        } catch let error as any HTTPResponseError {
            let detail = error.status == .notFound ? "There is nothing at this address." : Self.detail(for: error)
            return asPage(Self.response(status: error.status, detail: Self.detail(for: error)), request, detail: detail)
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
        var response = response(status: error.status, detail: error.detail)
        switch error {
        case .unauthenticated: response.headers[.wwwAuthenticate] = "Bearer"
        case .rateLimited(_, let retryAfter): response.headers[.retryAfter] = String(retryAfter)
        default: break
        }
        return response
    }

    /// 403 `{detail, policy, remedy?, retry_at?}`, with `mfa_token` and `expires_at` when a
    /// sign-in may go on by enrolling a second factor; a rate limit's 429 also carries
    /// `Retry-After` and the IETF `RateLimit-Policy` / `RateLimit` fields
    /// (draft-ietf-httpapi-ratelimit-headers).
    static func response(for refusal: PolicyRefusal) -> Response {
        struct Body: Encodable {
            var detail: String
            var policy: String
            var remedy: String?
            var retryAt: Date?
            var mfaToken: String?
            var expiresAt: Date?
        }
        var response = response(
            status: refusal.limit == nil ? .forbidden : .tooManyRequests,
            body: Body(
                detail: refusal.detail, policy: refusal.policyID, remedy: refusal.remedy, retryAt: refusal.retryAt,
                mfaToken: refusal.enrollment?.token, expiresAt: refusal.enrollment?.expiresAt))
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
        let path = request.routedPath
        return !Request.isAPI(path) && !path.hasPrefix("/health") && !path.hasPrefix("/metrics")
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

extension DomainError {
    /// The status every surface answers this error with (the API's JSON, the portal's pages).
    var status: HTTPResponse.Status {
        switch self {
        case .malformed: .badRequest
        case .unauthenticated: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .conflict: .conflict
        case .invalid: .unprocessableContent
        case .rateLimited: .tooManyRequests
        case .unavailable: .serviceUnavailable
        }
    }
}
