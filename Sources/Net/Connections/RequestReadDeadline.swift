import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// The read timeouts of one connection's requests: from the first byte of a request until its
/// head is decoded, at most `headLimit` may pass; from its head until the end of its body, at most
/// `bodyLimit`. Past either, the connection is closed. Two handlers share it: `RequestStartWatch`
/// before the HTTP decoder sees the first byte, `RequestHeadWatch` after it sees the head and the
/// request's end (from when the next byte starts the next request).
///
/// The idle timeout covers the time before that first byte, and a body that stops arriving; these
/// cover a client that writes a head or a body a byte at a time, which resets an idle timer forever.
final class RequestReadDeadline {
    private enum State {
        /// No request begun: the next byte read starts one.
        case betweenRequests
        /// A request's first bytes are being decoded. Most requests arrive whole in one read and
        /// are decoded before it returns, so no timer is armed unless the read ends without its
        /// head (or, below, its end).
        case headDue
        /// A request's first bytes arrived, its head has not: the head's deadline runs.
        case readingHead(Scheduled<Void>)
        /// The head arrived in this read, the request's end not yet.
        case bodyDue
        /// The head arrived, the end of its body has not: the body's deadline runs.
        case readingBody(Scheduled<Void>)
        /// Nothing more is read on this connection as HTTP (refused, or upgraded): no deadline.
        case off
    }

    private let headLimit: TimeAmount
    private let bodyLimit: TimeAmount
    private var state = State.betweenRequests
    /// Only the time the server waited on the client counts against a deadline: while it holds
    /// its reads (pipelined requests ahead of this one still being answered: back-pressure), the
    /// client could not have sent more. Since when it has asked for bytes and had none, and
    /// how long it waited so for the deadline running.
    private var waitingSince: NIODeadline?
    private var waited = TimeAmount.zero

    init(headLimit: TimeAmount, bodyLimit: TimeAmount) {
        self.headLimit = headLimit
        self.bodyLimit = bodyLimit
    }

    /// The server asked the connection for bytes.
    func readRequested() {
        if waitingSince == nil { waitingSince = .now() }
    }

    /// Bytes arrived and are about to be decoded.
    func bytesArriving() {
        if let since = waitingSince {
            waited = waited + (.now() - since)
            waitingSince = nil
        }
        if case .betweenRequests = state { state = .headDue }
    }

    /// The bytes read are decoded: a request they began without its head, or its end, has its
    /// deadline from now.
    func bytesDecoded(context: ChannelHandlerContext) {
        switch state {
        case .headDue: state = .readingHead(arm(context.channel, limit: headLimit))
        case .bodyDue: state = .readingBody(arm(context.channel, limit: bodyLimit))
        case .betweenRequests, .readingHead, .readingBody, .off: break
        }
    }

    /// The head arrived: the body's deadline runs until the request's end.
    func headArrived() {
        switch state {
        case .readingHead(let deadline):
            deadline.cancel()
            state = .bodyDue
        case .headDue, .betweenRequests: state = .bodyDue
        case .bodyDue, .readingBody, .off: break
        }
    }

    /// The request's body has been read to its end: the next byte starts the next request.
    /// (Not the response's end: a pipelined request, or a body still arriving after an early
    /// response, would otherwise be taken for a new head and cut mid-upload.)
    func requestEnded() {
        switch state {
        case .readingBody(let deadline):
            deadline.cancel()
            state = .betweenRequests
        case .bodyDue: state = .betweenRequests
        case .betweenRequests, .headDue, .readingHead, .off: break
        }
    }

    /// Nothing more is read as HTTP: a refused head, or an upgrade to another protocol.
    func cancel() {
        switch state {
        case .readingHead(let deadline), .readingBody(let deadline): deadline.cancel()
        case .betweenRequests, .headDue, .bodyDue, .off: break
        }
        state = .off
    }

    private func arm(_ channel: any Channel, limit: TimeAmount) -> Scheduled<Void> {
        waited = .zero
        return schedule(channel, in: limit, limit: limit)
    }

    private func schedule(_ channel: any Channel, in delay: TimeAmount, limit: TimeAmount) -> Scheduled<Void> {
        channel.eventLoop.assumeIsolated().scheduleTask(in: delay) { self.expired(channel, limit: limit) }
    }

    /// The deadline's time has passed: the connection closes if the server waited on the client
    /// for all of it; otherwise it runs on for the time the server held its reads.
    private func expired(_ channel: any Channel, limit: TimeAmount) {
        let total = waited + (waitingSince.map { .now() - $0 } ?? .zero)
        guard total < limit else {
            channel.close(promise: nil)
            return
        }
        // Not sooner than a second: a connection whose reads stay held must not wake this often.
        let again = schedule(channel, in: max(limit - total, .seconds(1)), limit: limit)
        switch state {
        case .readingHead: state = .readingHead(again)
        case .readingBody: state = .readingBody(again)
        case .betweenRequests, .headDue, .bodyDue, .off: again.cancel()
        }
    }
}

/// Before the HTTP decoder: a request's first byte begins it; a read decoded without the request's
/// head, or its end, starts the deadline; the server's asking for bytes counts its waiting.
final class RequestStartWatch: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let deadline: RequestReadDeadline

    init(_ deadline: RequestReadDeadline) {
        self.deadline = deadline
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        deadline.bytesArriving()
        context.fireChannelRead(data)
        deadline.bytesDecoded(context: context)
    }

    func read(context: ChannelHandlerContext) {
        deadline.readRequested()
        context.read()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline.cancel()
        context.fireChannelInactive()
    }
}

/// After the HTTP decoder: from a request's head, its body's deadline; at its end, the next head's.
final class RequestHeadWatch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private let deadline: RequestReadDeadline

    init(_ deadline: RequestReadDeadline) {
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
extension RequestReadDeadline: Sendable {}

@available(*, unavailable)
extension RequestStartWatch: Sendable {}

@available(*, unavailable)
extension RequestHeadWatch: Sendable {}
