import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Gives every request an id: the caller's `X-Request-ID` when it is a sane token (1–128 of
/// `A-Z a-z 0-9 . _ -`), else a new one. It is on every log line of the request (`request_id`)
/// and echoed in the response, so a client's report can be matched to the server's logs.
public struct RequestIDMiddleware: RouterMiddleware {
    public typealias Context = PortalRequestContext

    public init() {}

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let id = request.headers[.xRequestID].flatMap(Self.accepted) ?? UUID().uuidString.lowercased()
        var context = context
        context.logger[metadataKey: "request_id"] = .string(id)
        var response = try await next(request, context)
        response.headers[.xRequestID] = id
        return response
    }

    static func accepted(_ candidate: String) -> String? {
        guard (1...128).contains(candidate.utf8.count),
            candidate.utf8.allSatisfy({ byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                    || byte == 0x2D || byte == 0x2E || byte == 0x5F
            })
        else { return nil }
        return candidate
    }
}

extension HTTPField.Name {
    static let xRequestID = Self("X-Request-ID")!
}
