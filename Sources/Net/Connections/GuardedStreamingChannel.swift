import HTTPTypes
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOWebSocket

/// `GuardedHTTP1Channel` that also upgrades `/streams/…` requests to WebSockets (issue #17):
/// the same per-address cap, header-read and idle timeouts on every connection; a connection
/// that becomes a stream leaves the HTTP timeouts behind (its WebSocket pings instead).
struct GuardedStreamingChannel: ServerChildChannel {
    struct Value: ServerChildChannelValue {
        let upgrading: HTTP1WebSocketUpgradeChannel.Value
        /// Whether the connection's first request settled what it is: HTTP, or a WebSocket.
        let negotiation: EventLoopFuture<HTTP1WebSocketUpgradeChannel.UpgradeResult>
        var channel: any Channel { upgrading.channel }
    }

    private let upgrading: HTTP1WebSocketUpgradeChannel
    private let guards: ConnectionGuards
    private let idleTimeout: TimeAmount

    init(responder: @escaping HTTPChannelHandler.Responder, limits: ConnectionLimits, gateway: StreamGateway) {
        self.upgrading = HTTP1WebSocketUpgradeChannel(
            responder: responder,
            configuration: .init(
                http1: .init(idleTimeout: TimeAmount(limits.idleTimeout)),
                ws: .init(maxFrameSize: gateway.settings.maxFrameSize, autoPing: .enabled(timePeriod: .seconds(30)), closeTimeout: .seconds(5))),
            shouldUpgrade: { head, channel, logger in
                await gateway.shouldUpgrade(head, channel: channel, logger: logger)
            })
        self.guards = ConnectionGuards(limits: limits)
        self.idleTimeout = TimeAmount(limits.idleTimeout)
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let deadline: RequestReadDeadline
        do {
            deadline = try guards.admit(channel, logger: logger)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        do {
            // Hummingbird's idle timer joins the pipeline only once the first request is known not
            // to be an upgrade: until then, this one.
            try channel.pipeline.syncOperations.addHandler(FirstRequestWait(limit: idleTimeout), position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return upgrading.setup(channel: channel, logger: logger).assumeIsolated().flatMapThrowing { value in
            // Right after the HTTP/1 decoder: the HTTP/1 types, before the upgrade handler
            // (and, when there is no upgrade, before the codec to Hummingbird's types). Each is
            // added right after the decoder: the screen first, then the refusals, persistence,
            // expectations, then the watch.
            let operations = channel.pipeline.syncOperations
            let decoder = try operations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try operations.addHandler(UpgradableRequestHeadWatch(deadline), position: .after(decoder))
            try operations.addHandler(ContinueExpectation(upgradable: true), position: .after(decoder))
            try operations.addHandler(ConnectionPersistence(upgradable: true), position: .after(decoder))
            try operations.addHandler(UnparsableRequestAnswer(upgradable: true, deadline: deadline, logger: logger), position: .after(decoder))
            try operations.addHandler(UpgradeRequestScreen(), position: .after(decoder))
            let upgrader = try operations.handler(type: NIOTypedHTTPServerUpgradeHandler<HTTP1WebSocketUpgradeChannel.UpgradeResult>.self)
            // Run as the upgrade completes, on this event loop, before NIO passes on the bytes
            // that came with or after the handshake: every frame meets the check.
            upgrader.upgradeResultFuture.assumeIsolated().whenSuccess { result in
                guard case .websocket = result else { return }
                do {
                    try ClientFrameCheck.guarding(channel)
                } catch {
                    logger.error("A stream's frame check could not be added; closing it", metadata: ["error": "\(error)"])
                    channel.close(promise: nil)
                }
            }
            return Value(upgrading: value, negotiation: upgrader.upgradeResultFuture)
        }.nonisolated()
    }

    /// A connection whose first request settled nothing (closed before it, cut at a timeout, an
    /// upgrade request with a body) is closed here: left to Hummingbird's WebSocket channel it
    /// stayed open and was logged at `error`, a line per connection any client could cause.
    ///
    /// An upgrade the gateway declined (not a stream's path, no ticket, a malformed session id)
    /// is answered here too: a 400 with a JSON `detail`, where Hummingbird's answer had no body.
    func handle(value: Value, logger: Logger) async {
        let negotiated: HTTP1WebSocketUpgradeChannel.UpgradeResult
        do {
            negotiated = try await value.negotiation.get()
        } catch {
            logger.debug("Connection closed before its first request was settled", metadata: ["error": "\(error)"])
            try? await value.channel.close()
            return
        }
        if case .failedUpgrade(let http, _) = negotiated {
            await Self.refuseUpgrade(on: http, logger: logger)
            return
        }
        await upgrading.handle(value: value.upgrading, logger: logger)
    }

    private static func refuseUpgrade(on http: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, logger: Logger) async {
        let body = ByteBuffer(bytes: ConnectionRefusal.json("Only /streams/{session_id}?ticket=… is upgraded to a WebSocket"))
        var fields: HTTPFields = [
            .contentType: "application/json; charset=utf-8", .contentLength: String(body.readableBytes), .connection: "close",
        ]
        fields.append(contentsOf: ConnectionRefusal.policy)
        let head = HTTPResponse(status: .badRequest, headerFields: fields)
        do {
            try await http.executeThenClose { _, outbound in
                try await outbound.write(contentsOf: [.head(head), .body(body), .end(nil)])
            }
        } catch {
            logger.debug("A declined upgrade's answer was not written", metadata: ["error": "\(error)"])
        }
    }
}

/// The idle timeout of a connection that has not sent a byte yet: closed once `limit` passes
/// without one; gone from the pipeline at the first byte.
final class FirstRequestWait: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let limit: TimeAmount
    private var timer: Scheduled<Void>?

    init(limit: TimeAmount) {
        self.limit = limit
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: limit) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        timer?.cancel()
        timer = nil
        context.fireChannelReadAndLeave(data)
    }
}

@available(*, unavailable)
extension FirstRequestWait: Sendable {}

/// `RequestHeadWatch` on the HTTP/1 decoder's own types, for a pipeline that may become a
/// WebSocket's: at a first head that may be upgraded it leaves the pipeline (the upgrade removes
/// the HTTP handlers around it, and the frames that follow are not HTTP).
final class UpgradableRequestHeadWatch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    private let deadline: RequestReadDeadline
    private var departure = UpgradeDeparture(upgradable: true)

    init(_ deadline: RequestReadDeadline) {
        self.deadline = deadline
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            // Only a head NIO may take for an upgrade (a refused one is answered 400 and
            // closed): anything else is answered as plain HTTP, and the read deadlines must go
            // on covering its body and the connection's later requests. An upgraded connection
            // carries no more HTTP: no deadline of a request's applies to it.
            if departure.leaves(at: head) {
                deadline.cancel()
                context.fireChannelReadAndLeave(data)
                return
            }
            deadline.headArrived()
        case .end: deadline.requestEnded()
        case .body: break
        }
        context.fireChannelRead(data)
    }
}

@available(*, unavailable)
extension UpgradableRequestHeadWatch: Sendable {}
