import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// The header-read timeout of one connection: from the first byte of a request until its head
/// is decoded, at most `limit` may pass. Two handlers share it: `RequestStartWatch` before the
/// HTTP decoder sees the first byte, `RequestHeadWatch` after it sees the head and the request's
/// end (from when the next byte starts the next request).
///
/// The idle timeout covers the time before that first byte; this covers a client that writes a
/// head a byte at a time, which resets an idle timer forever.
final class RequestHeadDeadline {
    private enum State {
        /// No request begun: the next byte read starts one.
        case betweenRequests
        /// A request's first bytes are being decoded. Most heads arrive whole in one read and are
        /// decoded before it returns, so the timer is armed only if the read ends without one.
        case headDue
        /// A request's first bytes arrived, its head has not: the deadline runs.
        case readingHead(Scheduled<Void>)
        /// The head arrived; the deadline is off until the response ends.
        case inRequest
    }

    private let limit: TimeAmount
    private var state = State.betweenRequests

    init(limit: TimeAmount) {
        self.limit = limit
    }

    /// Bytes arrived and are about to be decoded; true when they begin a request.
    func bytesArriving() -> Bool {
        guard case .betweenRequests = state else { return false }
        state = .headDue
        return true
    }

    /// The bytes that began a request are decoded: without its head among them, the deadline runs.
    func bytesDecoded(context: ChannelHandlerContext) {
        guard case .headDue = state else { return }
        let channel = context.channel
        state = .readingHead(
            context.eventLoop.assumeIsolated().scheduleTask(in: limit) {
                channel.close(promise: nil)
            })
    }

    func headArrived() {
        if case .readingHead(let deadline) = state { deadline.cancel() }
        state = .inRequest
    }

    /// The request's body has been read to its end: the next byte starts the next request.
    /// (Not the response's end: a pipelined request, or a body still arriving after an early
    /// response, would otherwise be taken for a new head and cut mid-upload.)
    func requestEnded() {
        if case .inRequest = state { state = .betweenRequests }
    }

    func cancel() {
        if case .readingHead(let deadline) = state { deadline.cancel() }
        state = .inRequest
    }
}

/// Before the HTTP decoder: starts the deadline when a request's first byte arrives.
final class RequestStartWatch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let deadline: RequestHeadDeadline

    init(_ deadline: RequestHeadDeadline) {
        self.deadline = deadline
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let beginsRequest = deadline.bytesArriving()
        context.fireChannelRead(data)
        if beginsRequest { deadline.bytesDecoded(context: context) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline.cancel()
        context.fireChannelInactive()
    }
}

/// After the HTTP decoder: stops the deadline at a request's head, re-arms it at the request's end.
final class RequestHeadWatch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private let deadline: RequestHeadDeadline

    init(_ deadline: RequestHeadDeadline) {
        self.deadline = deadline
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: deadline.headArrived()
        case .end: deadline.requestEnded()
        case .body: break
        }
        context.fireChannelRead(data)
    }
}

@available(*, unavailable)
extension RequestHeadDeadline: Sendable {}

@available(*, unavailable)
extension RequestStartWatch: Sendable {}

@available(*, unavailable)
extension RequestHeadWatch: Sendable {}
