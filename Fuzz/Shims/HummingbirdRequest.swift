// For target `request-json`, which compiles Sources/Net/PortalJSON.swift and BoundedBody.swift as
// they are: the parts of Hummingbird and NIO they use. `Request.body.collect(upTo:)` hands back the
// body the harness was given, refusing one over the limit as Hummingbird does (with a 413, not a
// DomainError).
import Foundation

public struct HTTPResponse {
    public struct Status: Sendable, Equatable {
        public var code: Int
        public static let ok = Status(code: 200)
        public static let created = Status(code: 201)
        public static let unsupportedMediaType = Status(code: 415)
    }
}

/// swift-http-types' fields, reduced to those `Request.requireJSONMediaType` and
/// `Request.boundedBody` read.
public struct HTTPField {
    public struct Name: Hashable, Sendable {
        var canonicalName: String
        public static let contentType = Name(canonicalName: "content-type")
        public static let contentLength = Name(canonicalName: "content-length")
    }
}

public struct HTTPFields: Sendable {
    var values: [HTTPField.Name: String] = [:]

    public subscript(name: HTTPField.Name) -> String? { values[name] }
}

/// Hummingbird's error with a status and a message (the 415 of a body declared as not JSON).
public struct HTTPError: Error {
    public var status: HTTPResponse.Status
    public var body: String?

    public init(_ status: HTTPResponse.Status, message: String) {
        self.status = status
        self.body = message
    }
}

public struct Response {
    public var status: HTTPResponse.Status
}

public protocol RequestContext {
    var maxUploadSize: Int { get }
}

public protocol ResponseGenerator {
    func response(from request: Request, context: some RequestContext) throws -> Response
}

/// NIO's `ByteBuffer`, reduced to the readable bytes.
public struct ByteBuffer {
    public var readableBytesView: [UInt8]
    public var readableBytes: Int { readableBytesView.count }
}

/// NIO's refusal of a body over the context's `maxUploadSize` (a 413 in Hummingbird).
public struct NIOTooManyBytesError: Error {
    public var maxBytes: Int?

    public init(maxBytes: Int?) {
        self.maxBytes = maxBytes
    }
}

public struct RequestBody: Sendable {
    var bytes: [UInt8]

    public func collect(upTo maxSize: Int) async throws -> ByteBuffer {
        guard bytes.count <= maxSize else { throw NIOTooManyBytesError(maxBytes: maxSize) }
        return ByteBuffer(readableBytesView: bytes)
    }
}

public struct Request: Sendable {
    public var body: RequestBody
    public var headers: HTTPFields

    /// A request as the harness sends it: declared as JSON, or with no type declared.
    public init(body: [UInt8], contentType: String? = nil) {
        self.body = RequestBody(bytes: body)
        var values: [HTTPField.Name: String] = [.contentLength: String(body.count)]
        if let contentType { values[.contentType] = contentType }
        self.headers = HTTPFields(values: values)
    }
}

extension JSONEncoder {
    public func encode(_ value: some Encodable, from request: Request, context: some RequestContext) throws -> Response {
        _ = try encode(value)
        return Response(status: .ok)
    }
}

/// `PortalRequestContext`'s upload limit.
public struct FuzzContext: RequestContext {
    public var maxUploadSize: Int { 1 << 20 }
}
