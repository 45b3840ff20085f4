import HTTPTypes
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1

/// `GuardedHTTP1Channel` that also upgrades `/streams/…` requests to WebSockets (issue #17):
/// the same per-address cap, header-read and idle timeouts on every connection; a connection
/// that becomes a stream leaves the HTTP timeouts behind (its WebSocket pings instead).
struct GuardedStreamingChannel: ServerChildChannel {
    typealias Value = HTTP1WebSocketUpgradeChannel.Value

    private let upgrading: HTTP1WebSocketUpgradeChannel
    private let guards: ConnectionGuards

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
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let deadline: RequestHeadDeadline
        do {
            deadline = try guards.admit(channel, logger: logger)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return upgrading.setup(channel: channel, logger: logger).assumeIsolated().flatMapThrowing { value in
            // Right after the HTTP/1 decoder: the HTTP/1 types, before the upgrade handler
            // (and, when there is no upgrade, before the codec to Hummingbird's types).
            let operations = channel.pipeline.syncOperations
            let decoder = try operations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try operations.addHandler(UpgradableRequestHeadWatch(deadline), position: .after(decoder))
            return value
        }.nonisolated()
    }

    func handle(value: Value, logger: Logger) async {
        await upgrading.handle(value: value, logger: logger)
    }
}

/// `RequestHeadWatch` on the HTTP/1 decoder's own types, for a pipeline that may become a
/// WebSocket's: at a head that asks for an upgrade it leaves the pipeline (the upgrade removes
/// the HTTP handlers around it, and the frames that follow are not HTTP).
final class UpgradableRequestHeadWatch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    private let deadline: RequestHeadDeadline

    init(_ deadline: RequestHeadDeadline) {
        self.deadline = deadline
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            deadline.headArrived()
            // Only a WebSocket upgrade: any other `Upgrade` is answered as plain HTTP, and the
            // header-read deadline must go on covering the connection's later requests.
            if head.headers[canonicalForm: "upgrade"].contains(where: { $0.lowercased() == "websocket" }) {
                let pipeline = context.pipeline.syncOperations
                context.fireChannelRead(data)
                pipeline.removeHandler(context: context, promise: nil)
                return
            }
        case .end: deadline.requestEnded()
        case .body: break
        }
        context.fireChannelRead(data)
    }
}

@available(*, unavailable)
extension UpgradableRequestHeadWatch: Sendable {}
