import HTTPTypes
import Hummingbird

extension Response {
    /// The answer to a `HEAD` of a resource whose length is not known before it is written (a
    /// streamed download, a report made on request): the GET's fields, no `Content-Length`. NIO
    /// frames it as the GET would be (chunked) and sends no body. Hummingbird's own HEAD answer
    /// would say `Content-Length: 0`, which is false.
    static func headOnly(status: HTTPResponse.Status = .ok, headers: HTTPFields) -> Response {
        Response(status: status, headers: headers, body: ResponseBody { writer in try await writer.finish(nil) })
    }
}
