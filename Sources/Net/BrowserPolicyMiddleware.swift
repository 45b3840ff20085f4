import HTTPTypes
import Hummingbird

/// CORS for an explicit list of origins (never `*`), and headers that keep API responses out of
/// caches, content sniffing and frames, tell browsers to use HTTPS only (HSTS; ignored over plain
/// HTTP, so harmless on loopback) and send no referrer onwards.
public struct BrowserPolicyMiddleware: RouterMiddleware {
    public typealias Context = PortalRequestContext
    private let allowedOrigins: Set<String>

    public init(allowedOrigins: [String]) {
        self.allowedOrigins = Set(allowedOrigins)
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        // Only the API is open to other origins, and without credentials: it takes bearer tokens,
        // never cookies. The portal's pages hold a session cookie; a listed origin (a sibling
        // host, say, from which SameSite=Strict still sends it) must not read them or their CSRF
        // token, nor post to them.
        let path = request.uri.path
        let isAPI = path == "/api" || path.hasPrefix("/api/")
        let origin = request.headers[.origin].flatMap { isAPI && allowedOrigins.contains($0) ? $0 : nil }
        var response: Response
        if request.method == .options, origin != nil, request.headers[.accessControlRequestMethod] != nil {
            response = Response(status: .noContent)
            response.headers[.accessControlAllowMethods] = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
            response.headers[.accessControlAllowHeaders] = "Authorization, Content-Type, X-Request-ID"
            response.headers[.accessControlMaxAge] = "600"
        } else {
            response = try await next(request, context)
        }
        if let origin {
            response.headers[.accessControlAllowOrigin] = origin
        }
        if !allowedOrigins.isEmpty {
            response.headers[values: .vary].append("Origin")
        }
        response.headers[.xContentTypeOptions] = "nosniff"
        // Only the portal's content-hashed assets say otherwise (cached for a year).
        if response.headers[.cacheControl] == nil {
            response.headers[.cacheControl] = "no-store"
        }
        // Not `includeSubDomains`: workspaces on sibling hosts may still be served over plain HTTP.
        response.headers[.strictTransportSecurity] = "max-age=63072000"
        response.headers[.referrerPolicy] = "no-referrer"
        response.headers[.xFrameOptions] = "DENY"
        // The portal's pages set a fuller policy of their own (`PageRenderer.secure`).
        if response.headers[.contentSecurityPolicy] == nil {
            response.headers[.contentSecurityPolicy] = "frame-ancestors 'none'"
        }
        return response
    }
}

extension HTTPField.Name {
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let strictTransportSecurity = Self("Strict-Transport-Security")!
    static let referrerPolicy = Self("Referrer-Policy")!
    static let xFrameOptions = Self("X-Frame-Options")!
}
