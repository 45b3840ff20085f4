import Hummingbird
import NIOCore

extension Request {
    /// The request's body, at most `limit` bytes, else 413. A body declared larger is refused
    /// before any of it is read. (One declared larger than any route reads is refused before it
    /// reaches a route, and its connection closed: `UnparsableRequestAnswer`.)
    func boundedBody(upTo limit: Int) async throws -> ByteBuffer {
        if let declared = headers[.contentLength], DeclaredLength.exceeds(declared, limit) {
            throw NIOTooManyBytesError(maxBytes: limit)
        }
        return try await body.collect(upTo: limit)
    }
}

/// A request's declared `Content-Length` against a limit.
enum DeclaredLength {
    /// Whether `declared` (digits, as the HTTP decoder let through) is over `limit`, however many
    /// digits it has: one no `Int` holds (2^63 and up) is over any limit.
    static func exceeds(_ declared: String, _ limit: Int) -> Bool {
        let digits = declared.utf8.drop { $0 == UInt8(ascii: "0") }
        guard digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return false }
        guard digits.count <= 18 else { return true }
        return (Int(Substring(digits)) ?? 0) > limit  // no digits left: the length was 0
    }
}
