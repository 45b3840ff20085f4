import NIOCore
import NIOHTTP1

/// A refusal written by a handler of the HTTP decoder's types, before Hummingbird has a request
/// to answer: a 4xx with a JSON `detail`, as every other refusal is answered, and then the
/// connection closed.
enum ConnectionRefusal {
    /// Writes the refusal at `context`'s place in the pipeline, then ends the connection.
    static func write(_ status: HTTPResponseStatus, detail: String, context: ChannelHandlerContext) {
        let body = ByteBuffer(bytes: json(detail))
        let headers = HTTPHeaders([
            ("Content-Type", "application/json; charset=utf-8"),
            ("Content-Length", String(body.readableBytes)),
            ("Connection", "close"),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
        ])
        let head = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
        context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
        context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil)
        endInput(context: context)
    }

    /// Closes the connection as one whose input has ended, once what has been written to it is
    /// sent: the handlers after `context`'s see the end of input first, as they would from a
    /// client that stopped sending. (Closed under it instead, a pipeline still deciding whether
    /// to upgrade to a WebSocket reports that as an error.)
    static func endInput(context: ChannelHandlerContext) {
        context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        // Closing the output waits for the writes pending; closing at once would drop them.
        let outputClosed = context.eventLoop.makePromise(of: Void.self)
        context.close(mode: .output, promise: outputClosed)
        outputClosed.futureResult.assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    /// `{"detail": …}`; the details are this server's own sentences, with nothing JSON must
    /// escape.
    static func json(_ detail: String) -> [UInt8] {
        Array(#"{"detail":""#.utf8) + Array(detail.utf8) + Array(#""}"#.utf8)
    }
}
