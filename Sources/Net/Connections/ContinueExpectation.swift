import NIOCore
import NIOHTTP1

/// Answers `Expect: 100-continue` (RFC 9110 §10.1.1): a client that sends it waits for a
/// `100 Continue` before it sends the request's body, a second (curl) or for good, and neither
/// NIO nor Hummingbird sends one. It is sent once the request is the connection's current one
/// (the answers to the pipelined requests before it written to their end), whatever its route
/// will answer: a body the route does not read is then read and dropped, as any other. None is
/// sent for a request whose body has begun to arrive by then (the client did not wait), nor for
/// one after a request that ends the connection (`ConnectionPersistence`: never answered).
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

    private var departure: UpgradeDeparture
    /// Request heads read, and answers written to their end.
    private var requestsRead = 0
    private var answersEnded = 0
    /// The request (its place among the connection's requests, counted from 1) that waits for a
    /// `100 Continue` until the answers before it are written.
    private var waiting: Int?
    /// Whether a request that ends the connection has been read: none after it is answered.
    private var ending = false

    init(upgradable: Bool) {
        departure = UpgradeDeparture(upgradable: upgradable)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = unwrapInboundIn(data) else {
            // Its body arriving: the client did not wait for the 100, which need not be sent.
            if waiting == requestsRead { waiting = nil }
            context.fireChannelRead(data)
            return
        }
        requestsRead += 1
        if departure.leaves(at: head) {
            context.fireChannelReadAndLeave(data)
            return
        }
        context.fireChannelRead(data)
        guard !ending else { return }
        ending = ConnectionPersistence.endsConnection(head)
        guard Self.expectsContinue(head) else { return }
        if requestsRead == answersEnded + 1 {
            sendContinue(context: context)
        } else {
            waiting = requestsRead
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        answersEnded += 1
        context.write(data, promise: promise)
        if let waiting, waiting == answersEnded + 1 {
            self.waiting = nil
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
