import NIOCore
import NIOWebSocket

/// Closes a stream whose browser sends a frame that is not masked, as RFC 6455 §5.1 asks of a
/// server: with a close frame giving 1002 (protocol error), before the frame reaches the relay.
///
/// Browsers always mask; the mask keeps bytes a page chooses from appearing as such on the wire,
/// where a caching proxy could take them for a request of its own. NIO's frame decoder passes a
/// frame with its mask key or without one, and swift-websocket unmasks what it gets, handing the
/// relay neither the mask nor its absence: so this sits between the two, from the moment the
/// connection becomes a WebSocket.
///
/// After the close frame nothing else is written (RFC 6455 §5.5.1): the relay's frames still on
/// their way are dropped. The connection is closed once the close frame is written, or after
/// `closeDelay` if a client that stopped reading holds it back.
final class MaskedClientFrames: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    static let reason = "A client's frames must be masked"
    static let closeDelay = TimeAmount.seconds(1)

    /// Set at the first unmasked frame: what follows it either way is dropped until the
    /// connection closes.
    private var refused = false

    /// Adds one to an upgraded connection's pipeline, right after its frame decoder.
    static func guarding(_ channel: any Channel) throws {
        let operations = channel.pipeline.syncOperations
        let decoder = try operations.handler(type: ByteToMessageHandler<WebSocketFrameDecoder>.self)
        try operations.addHandler(MaskedClientFrames(), position: .after(decoder))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        guard unwrapInboundIn(data).maskKey == nil else {
            context.fireChannelRead(data)
            return
        }
        refused = true
        var payload = context.channel.allocator.buffer(capacity: 2 + Self.reason.utf8.count)
        payload.write(webSocketErrorCode: .protocolError)
        payload.writeString(Self.reason)
        let close = WebSocketFrame(fin: true, opcode: .connectionClose, data: payload)
        let loop = context.eventLoop.assumeIsolated()
        let deadline = loop.scheduleTask(in: Self.closeDelay) { context.close(promise: nil) }
        context.writeAndFlush(wrapOutboundOut(close)).assumeIsolated().whenComplete { _ in
            deadline.cancel()
            context.close(promise: nil)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !refused else {
            promise?.fail(ChannelError.outputClosed)
            return
        }
        context.write(data, promise: promise)
    }
}

@available(*, unavailable)
extension MaskedClientFrames: Sendable {}
