import HTTPTypes
import Hummingbird
import NIOCore
import Testing

@testable import Net

/// `Request.routedPath`: the path as Hummingbird's router resolves it, which path checks read.
@Suite("Routed path")
struct RoutedPathTests {
    static func request(_ path: String) -> Request {
        Request(
            head: HTTPRequest(method: .post, scheme: "http", authority: "neosc", path: path), body: RequestBody(buffer: ByteBuffer()))
    }

    @Test("empty segments and a trailing slash are dropped, as the router drops them; the API is /api and below, however spelled")
    func asTheRouterReadsIt() {
        let cases: [(sent: String, routed: String, isAPI: Bool)] = [
            ("/", "/", false), ("/api", "/api", true), ("/api/", "/api", true), ("//api/auth/login", "/api/auth/login", true),
            ("///api//demo/sessions/", "/api/demo/sessions", true), ("/sign-in/", "/sign-in", false),
            ("/sign-in/enroll/", "/sign-in/enroll", false), ("/apis/x", "/apis/x", false), ("//apix", "/apix", false),
            ("/health", "/health", false),
        ]
        for (sent, routed, isAPI) in cases {
            let request = Self.request(sent)
            #expect(request.routedPath == routed, "\(sent)")
            #expect(request.isForAPI == isAPI, "\(sent)")
        }
    }
}
