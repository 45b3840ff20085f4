import NIOCore
import NIOHTTP1

/// Answers `Expect: 100-continue` (RFC 9110 §10.1.1): a client that sends it waits for a
/// `100 Continue` before it sends the request's body, a second (curl) or for good, and neither
/// NIO nor Hummingbird sends one. It is sent once the request is the connection's current one
/// (the answers to the pipelined requests before it written to their end), whatever its route
/// will answer: a body the route does not read is then read and dropped, as any other.
/// An HTTP/1.0 request's expectation is ignored, as the RFC requires, and so is one of a request
/// that announces no body.
///
/// On the HTTP decoder's types, right after it. On a connection that may become a stream, the
/// handler leaves the pipeline at a first head NIO may upgrade.
final class ContinueExpectation: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// Whether the connection's first request may be upgraded to a WebSocket.
    private var upgradable: Bool
    /// Requests read whose answer has not been written to its end.
    private var answersOwed = 0
    /// Whether the last request read waits for a `100 Continue` not yet sent. (A client that
    /// waits sends nothing more before it: no head can come between.)
    private var continueOwed = false

    init(upgradable: Bool) {
        self.upgradable = upgradable
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        answersOwed += 1
        defer { upgradable = false }
        if upgradable, StreamGateway.mayUpgrade(head) {
            context.fireChannelReadAndLeave(data)
            return
        }
        context.fireChannelRead(data)
        guard Self.expectsContinue(head) else { return }
        if answersOwed == 1 {
            sendContinue(context: context)
        } else {
            continueOwed = true
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        answersOwed -= 1
        context.write(data, promise: promise)
        if continueOwed, answersOwed == 1 {
            continueOwed = false
            sendContinue(context: context)
        }
    }

    private func sendContinue(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .continue))), promise: nil)
    }

    /// Whether `head` waits for a `100 Continue` before sending its body.
    static func expectsContinue(_ head: HTTPRequestHead) -> Bool {
        !head.version.precedesHTTP11 && head.announcesBody
            && head.headers[canonicalForm: "expect"].contains { $0.lowercased() == "100-continue" }
    }
}

@available(*, unavailable)
extension ContinueExpectation: Sendable {}

extension HTTPRequestHead {
    /// Whether a body follows the head: a `Transfer-Encoding`, or a `Content-Length` other than 0.
    var announcesBody: Bool {
        headers.contains(name: "transfer-encoding")
            || headers["content-length"].contains { Int($0.filter { !$0.isWhitespace }) != 0 }
    }
}
