import Hummingbird
import NIOCore

extension Request {
    /// The request's body, at most `limit` bytes, else 413. A body declared larger is refused
    /// before any of it is read, so a client that declares one and sends nothing gets its answer
    /// at once, not after the idle timeout.
    func boundedBody(upTo limit: Int) async throws -> ByteBuffer {
        if let declared = headers[.contentLength].flatMap(Int.init), declared > limit {
            throw NIOTooManyBytesError(maxBytes: limit)
        }
        return try await body.collect(upTo: limit)
    }
}
