import Hummingbird
import NIOCore

/// `GET /api/openapi.json`: the API's contract (`docs/openapi.json`), open to anyone like `/api`.
struct OpenAPIRoutes {
    private static let document = ByteBuffer(string: OpenAPIDocument.json)

    func register(on router: Router<PortalRequestContext>) {
        router.get("api/openapi.json", use: document)
    }

    @Sendable func document(_ request: Request, context: PortalRequestContext) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: Self.document))
    }
}
