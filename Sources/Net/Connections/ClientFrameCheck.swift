import NIOCore
import NIOWebSocket

/// Closes a stream whose browser breaks one of the rules RFC 6455 sets a server to enforce, before
/// the frame reaches the relay, with a close frame giving the code:
/// - a frame that is not masked (§5.1): 1002, protocol error. Browsers always mask; the mask keeps
///   bytes a page chooses from appearing as such on the wire, where a caching proxy could take
///   them for a request of its own;
/// - a message's frames out of order (§5.4): a continuation with no message under way, or a new
///   message's first frame before the last one's end: 1002 (control frames may come between);
/// - a text message that is not UTF-8 (§8.1): 1007, invalid payload data, judged frame by frame
///   (`TextMessageUTF8`), as the relay passes frames on as they come.
///
/// NIO's frame decoder passes a frame with its mask key or without one, and swift-websocket
/// unmasks what it gets, handing the relay neither the mask nor its absence; and it checks text
/// only in whole messages, which the relay never asks it for. So this sits between the two, from
/// the moment the connection becomes a WebSocket.
///
/// After the close frame nothing else is written (RFC 6455 §5.5.1): the relay's frames still on
/// their way are dropped. The connection is closed once the close frame is written, or after
/// `closeDelay` if a client that stopped reading holds it back.
final class ClientFrameCheck: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    static let unmasked = "A client's frames must be masked"
    static let notUTF8 = "A text message must be UTF-8"
    static let outOfOrder = "A message's frames must follow one another"
    static let closeDelay = TimeAmount.seconds(1)

    private var text = TextMessageUTF8()
    /// Whether a message's first frame has come and its last not yet.
    private var messageOpen = false
    /// Set at the first frame refused: what follows it either way is dropped until the
    /// connection closes.
    private var refused = false

    /// Adds one to an upgraded connection's pipeline, right after its frame decoder.
    static func guarding(_ channel: any Channel) throws {
        let operations = channel.pipeline.syncOperations
        let decoder = try operations.handler(type: ByteToMessageHandler<WebSocketFrameDecoder>.self)
        try operations.addHandler(ClientFrameCheck(), position: .after(decoder))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        let frame = unwrapInboundIn(data)
        guard frame.maskKey != nil else {
            refuse(.protocolError, Self.unmasked, context: context)
            return
        }
        switch frame.opcode {
        case .text, .binary, .continuation:
            let isText = frame.opcode == .text
            let isContinuation = frame.opcode == .continuation
            guard isContinuation == messageOpen else {
                refuse(.protocolError, Self.outOfOrder, context: context)
                return
            }
            messageOpen = !frame.fin
            // Only text is read (unmasked, a copy); a binary message's frames pass unread.
            let readsText = isText || (isContinuation && text.isWithinText)
            // A binary frame costs no copy, no allocation: the relay's hot path.
            let accepted =
                readsText
                ? text.accepts(frame.unmaskedData.readableBytesView, isContinuation: isContinuation, isText: isText, isFinal: frame.fin)
                : text.accepts(EmptyCollection(), isContinuation: isContinuation, isText: isText, isFinal: frame.fin)
            guard accepted else {
                refuse(.dataInconsistentWithMessage, Self.notUTF8, context: context)
                return
            }
        default:
            break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !refused else {
            promise?.fail(ChannelError.outputClosed)
            return
        }
        context.write(data, promise: promise)
    }

    private func refuse(_ code: WebSocketErrorCode, _ reason: String, context: ChannelHandlerContext) {
        refused = true
        var payload = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        payload.write(webSocketErrorCode: code)
        payload.writeString(reason)
        let close = WebSocketFrame(fin: true, opcode: .connectionClose, data: payload)
        let loop = context.eventLoop.assumeIsolated()
        let deadline = loop.scheduleTask(in: Self.closeDelay) { context.close(promise: nil) }
        context.writeAndFlush(wrapOutboundOut(close)).assumeIsolated().whenComplete { _ in
            deadline.cancel()
            context.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension ClientFrameCheck: Sendable {}
