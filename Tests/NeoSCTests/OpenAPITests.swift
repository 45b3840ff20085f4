import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Net
import Testing

@testable import App

/// The contract (issue #15): `docs/openapi.json` is what `GET /api/openapi.json` serves, and it
/// documents exactly the routes the server registers. Schemathesis (`scripts/schemathesis`, in
/// the test command) checks the answers against it.
@Suite struct OpenAPITests {
    static let documentFile = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/openapi.json")

    static func parsed(_ data: Data) throws -> NSDictionary {
        try #require(try JSONSerialization.jsonObject(with: data) as? NSDictionary)
    }

    @Test func theServedDocumentIsTheOneInDocs() async throws {
        let file = try Data(contentsOf: Self.documentFile)
        #expect(try Self.parsed(file)["openapi"] as? String == "3.1.0")
        try await Harness.run { _, client in
            let served = try await client.send(.get, "/api/openapi.json")
            #expect(served.status == .ok)
            #expect(served.headers[.contentType]?.hasPrefix("application/json") == true)
            let same = try Self.parsed(Data(served.text.utf8)) == Self.parsed(file)
            #expect(same, "run scripts/openapi.py after changing it")
        }
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteServed() async throws {
        let document = try Self.parsed(try Data(contentsOf: Self.documentFile))
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        let methods: Set<String> = ["get", "put", "post", "delete", "patch", "head", "options", "trace"]
        let documented = Set(
            paths.flatMap { path, operations in
                operations.keys.filter(methods.contains).map { "\($0.uppercased()) \(path)" }
            })
        try await Harness.run(
            .router,
            {
                // Every optional route on: the floor and the Zitadel Actions target.
                $0.benchmarkRoutes = true
                $0.zitadelActionsSigningKey = Secret("a-zitadel-target-signing-key-0123456789")
                $0.zitadelProjectID = "project-neosc"
            }
        ) { harness, _ in
            let router = PortalRouter.make(portal: harness.portal)
            // Hummingbird writes a parameter as `:id` (`{id}` in OpenAPI); `/api/` is `/api`'s
            // trailing-slash twin, which the router matches without a route of its own.
            // The portal's pages and their assets (docs/ui.md) are HTML, not the API. A `HEAD` is
            // its `GET`'s, answered wherever one is (docs/api.md), some by a route of their own.
            let service: Set<String> = ["/health", "/metrics", "/bench/floor"]
            let registered = Set(
                router.routes.filter {
                    $0.method != .head && ("\($0.path)".hasPrefix("/api") || service.contains("\($0.path)"))
                }.map { route in
                    let path = "\(route.path)".split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }
                    return "\(route.method) /" + path.joined(separator: "/")
                })
            #expect(registered.subtracting(documented).sorted() == [], "registered but not documented")
            #expect(documented.subtracting(registered).subtracting(["GET /api/"]).sorted() == [], "documented but not registered")
        }
    }

    /// The document's URL pattern describes a subset of what `Validation.url` takes, never more:
    /// a fuzzer draws from the pattern and treats a 422 on a match as the server's fault (a
    /// clean-clone run found `http://host:0`, which the pattern allowed and the server refuses).
    @Test func everyURLThePatternAllowsIsAccepted() throws {
        let document = try Self.parsed(try Data(contentsOf: Self.documentFile))
        func patterns(in value: Any) -> [String] {
            if let object = value as? [String: Any] {
                let own = (object["pattern"] as? String).map { [$0] } ?? []
                return own + object.values.flatMap(patterns(in:))
            }
            return (value as? [Any])?.flatMap(patterns(in:)) ?? []
        }
        let urlPatterns = Set(patterns(in: document).filter { $0.contains("[Hh][Tt][Tt][Pp]") })
        #expect(urlPatterns.count == 1, "one URL pattern, used everywhere")
        let regex = try NSRegularExpression(pattern: try #require(urlPatterns.first))
        func matches(_ text: String) -> Bool {
            regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
        }
        let samples = [
            "/", "/a", "/a/b", "/%41", "/~x", "/-", "http://a", "HtTpS://a.b-c.d", "http://a:1", "http://a:0",
            "http://a:00", "http://a:0080", "http://a:9999", "http://1.2.3.4:65", "http://a/", "http://a//x",
            "http://a/%08%9b/k%B6+N", "http://a:80/$&'()*+,;=:@", "https://x-1.example/p.q_r~s",
        ]
        var matched = 0
        for sample in samples where matches(sample) {
            matched += 1
            #expect(throws: Never.self, "\(sample) matches the pattern") { try Validation.url(sample, field: "url") }
        }
        #expect(matched >= samples.count - 3, "the samples exercise the pattern")
        #expect(!matches("http://a:0") && !matches("http://a:00"), "port 0 is not a port")
    }
}
