import HTTPTypes
import NIOCore
import NIOHTTP1

/// A refusal written by a handler of the HTTP decoder's types, before Hummingbird has a request
/// to answer: a 4xx with a JSON `detail`, as every other refusal is answered, and then the
/// connection closed.
enum ConnectionRefusal {
    /// Writes the refusal at `context`'s place in the pipeline, then ends the connection.
    /// - Parameter draining: how long what the client still sends is read and dropped before the
    ///   connection is closed (`closeOnceSent`).
    static func write(
        _ status: HTTPResponseStatus, detail: String, adding extraHeaders: [(String, String)] = [], draining: TimeAmount = lingering,
        context: ChannelHandlerContext
    ) {
        let body = ByteBuffer(bytes: json(detail))
        let headers = HTTPHeaders(
            [
                ("Content-Type", "application/json; charset=utf-8"),
                ("Content-Length", String(body.readableBytes)),
                ("Connection", "close"),
            ] + policyHeaders + extraHeaders)
        let head = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
        context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
        context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil)
        closeOnceSent(context: context, draining: draining)
    }

    /// Closes the connection once what has been written to it is sent: first its output (which
    /// waits for the writes pending; a close at once would drop them), then, `draining` later, the
    /// rest. Meanwhile what the client still sends is read and dropped, so that the close does not
    /// reset the connection before the client has read its answer.
    static func closeOnceSent(context: ChannelHandlerContext, draining: TimeAmount = lingering) {
        let outputClosed = context.eventLoop.makePromise(of: Void.self)
        context.close(mode: .output, promise: outputClosed)
        outputClosed.futureResult.assumeIsolated().whenComplete { _ in
            context.eventLoop.assumeIsolated().scheduleTask(in: draining) {
                context.close(promise: nil)
            }
        }
    }

    /// The fields every answer carries (`BrowserPolicy`), a refusal written before
    /// Hummingbird has a request included: not stored, not sniffed, not framed, HTTPS only, no
    /// referrer.
    static let policy: [HTTPField] =
        BrowserPolicy.alwaysSent + [
            BrowserPolicy.noReferrer, BrowserPolicy.notStored, BrowserPolicy.notFramed,
        ]

    /// `policy` as NIO's header pairs.
    static let policyHeaders: [(String, String)] = policy.map { ($0.name.rawName, $0.value) }

    /// How long a refused connection is kept reading after its answer, by default; one refused for
    /// the body it is sending gets `uploadDraining`.
    static let uploadDraining = TimeAmount.seconds(5)

    /// How long a refused connection is kept reading after its answer.
    static let lingering = TimeAmount.milliseconds(500)

    /// `{"detail": …}`; the details are this server's own sentences, with nothing JSON must
    /// escape.
    static func json(_ detail: String) -> [UInt8] {
        Array(#"{"detail":""#.utf8) + Array(detail.utf8) + Array(#""}"#.utf8)
    }
}
