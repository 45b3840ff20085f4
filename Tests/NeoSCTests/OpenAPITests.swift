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
            let registered = Set(
                router.routes.map { route in
                    let path = "\(route.path)".split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }
                    return "\(route.method) /" + path.joined(separator: "/")
                })
            #expect(registered.subtracting(documented).sorted() == [], "registered but not documented")
            #expect(documented.subtracting(registered).subtracting(["GET /api/"]).sorted() == [], "documented but not registered")
        }
    }
}
