import HTTPTypes
import Hummingbird

/// CORS for an explicit list of origins (never `*`), and headers that keep API responses out of
/// caches, content sniffing and frames, tell browsers to use HTTPS only (HSTS; ignored over plain
/// HTTP, so harmless on loopback) and send no referrer onwards (the pages: to their own origin only).
/// Applied to every answer by `PortalEdgeMiddleware`.
public struct BrowserPolicy: Sendable {
    public typealias Context = PortalRequestContext
    private let allowedOrigins: Set<String>

    /// Not `includeSubDomains` in HSTS: workspaces on sibling hosts may still be served over
    /// plain HTTP.
    static let alwaysSent: [HTTPField] = [
        HTTPField(name: .xContentTypeOptions, value: "nosniff"),
        HTTPField(name: .strictTransportSecurity, value: "max-age=63072000"),
        HTTPField(name: .xFrameOptions, value: "DENY"),
    ]
    /// No referrer onwards, but from the portal's pages, which set their own (`PageRenderer.secure`).
    static let noReferrer = HTTPField(name: .referrerPolicy, value: "no-referrer")
    static let notStored = HTTPField(name: .cacheControl, value: "no-store")
    static let notFramed = HTTPField(name: .contentSecurityPolicy, value: "frame-ancestors 'none'")

    public init(allowedOrigins: [String]) {
        self.allowedOrigins = Set(allowedOrigins)
    }

    /// The request's `Origin` when it may read the answer: the API's, from a listed origin.
    ///
    /// Only the API is open to other origins, and without credentials: it takes bearer tokens,
    /// never cookies. The portal's pages hold a session cookie; a listed origin (a sibling host,
    /// say, from which SameSite=Strict still sends it) must not read them or their CSRF token, nor
    /// post to them.
    func allowedOrigin(of request: Request) -> String? {
        guard !allowedOrigins.isEmpty else { return nil }
        return request.headers[.origin].flatMap { request.isForAPI && allowedOrigins.contains($0) ? $0 : nil }
    }

    /// The answer to a CORS preflight from `origin`, which no route sees; nil for any other request.
    func preflight(_ request: Request, from origin: String?) -> Response? {
        guard request.method == .options, origin != nil, request.headers[.accessControlRequestMethod] != nil else { return nil }
        var response = Response(status: .noContent)
        response.headers[.accessControlAllowMethods] = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
        response.headers[.accessControlAllowHeaders] = "Authorization, Content-Type, X-Request-ID"
        response.headers[.accessControlMaxAge] = "600"
        return response
    }

    /// Adds the policy's fields to any answer, `origin` as `allowedOrigin(of:)` gave it.
    func finish(_ response: inout Response, origin: String?) {
        if let origin {
            response.headers[.accessControlAllowOrigin] = origin
        }
        if !allowedOrigins.isEmpty {
            response.headers[values: .vary].append("Origin")
        }
        // One pass for the two fields an answer may bring itself: only the portal's
        // content-hashed assets are cached (for a year), and its pages set a fuller policy of
        // their own (`PageRenderer.secure`).
        var setsCaching = false
        var setsPolicy = false
        var setsReferrer = false
        for field in response.headers {
            if field.name == .cacheControl {
                setsCaching = true
            } else if field.name == .contentSecurityPolicy {
                setsPolicy = true
            } else if field.name == .referrerPolicy {
                setsReferrer = true
            }
        }
        // The rest are NeoSC's alone, on every answer: appended as they were made once, not set
        // (a search and a check of each value per field, per request).
        response.headers.append(contentsOf: Self.alwaysSent)
        if !setsCaching {
            response.headers.append(Self.notStored)
        }
        if !setsPolicy {
            response.headers.append(Self.notFramed)
        }
        if !setsReferrer {
            response.headers.append(Self.noReferrer)
        }
    }
}

extension HTTPField.Name {
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let strictTransportSecurity = Self("Strict-Transport-Security")!
    static let referrerPolicy = Self("Referrer-Policy")!
    static let xFrameOptions = Self("X-Frame-Options")!
}
