import NIOCore
import NIOHTTP1

/// Looks at the first request of a connection that may become a stream before NIO's upgrade
/// handler does, then leaves the pipeline:
/// - an `Upgrade` to anything but `websocket` (`h2c`, which `curl --http2` asks for) is ignored,
///   as RFC 9110 §7.8 allows: the header is dropped and the request answered as plain HTTP
///   (NIO's upgrade handler, finding no upgrader for it, lost the request and answered nothing),
///   and with `Connection: close` when it asked for `Connection: upgrade`;
/// - a WebSocket upgrade in HTTP/1.0, or without `Connection: upgrade` (RFC 6455 §4.1 requires
///   HTTP/1.1 and the option) is refused
///   with a 400: NIO's upgrader took it, but its decoder, not told to stop, went on decoding what
///   followed as HTTP, and a pipelined request reached the WebSocket's frame decoder and trapped;
/// - a WebSocket upgrade that announces a body is refused with a 400: NIO waits for the body's
///   end before it upgrades, and fails the connection once a body part arrives, so a client
///   that announced one and sent none held its connection open with no timeout running;
/// - one without a single `Sec-WebSocket-Key`, or whose `Sec-WebSocket-Version` is not 13, is
///   refused (400; 426 naming the version, RFC 6455 §4.4): NIO's upgrader failed it before the
///   gateway was asked, and the request was lost unanswered.
final class UpgradeRequestScreen: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    /// Set once the first request has been refused: the rest of it is dropped.
    private var refused = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        guard case .head(var head) = unwrapInboundIn(data), head.headers.contains(name: "upgrade") else {
            context.fireChannelReadAndLeave(data)
            return
        }
        if !StreamGateway.mayUpgrade(head) {
            head.headers.remove(name: "upgrade")
            // NIO's decoder reads nothing more after a head with `Connection: upgrade`, waiting
            // for the upgrade to take it away: the answer closes the connection instead of
            // leaving the client's next request unread.
            if head.asksConnectionUpgrade {
                head.headers.replaceOrAdd(name: "connection", value: "close")
            }
            context.fireChannelReadAndLeave(wrapInboundOut(.head(head)))
        } else if head.version.precedesHTTP11 {
            refuse(.badRequest, detail: "A WebSocket upgrade needs HTTP/1.1", context: context)
        } else if !head.stopsDecoderForUpgrade {
            // NIO upgrades without it, but its decoder then goes on reading: a request pipelined
            // behind this one was decoded, and handed to the WebSocket's frame decoder after the
            // switch, which trapped (the whole process down).
            refuse(.badRequest, detail: "A WebSocket upgrade needs Connection: Upgrade", context: context)
        } else if head.announcesBody {
            refuse(.badRequest, detail: "A WebSocket upgrade request has no body", context: context)
        } else if head.headers["sec-websocket-version"] != ["13"] {
            refuse(
                .upgradeRequired, detail: "A WebSocket upgrade needs Sec-WebSocket-Version: 13", adding: [("Sec-WebSocket-Version", "13")],
                context: context)
        } else if head.headers["sec-websocket-key"].count != 1 {
            refuse(.badRequest, detail: "A WebSocket upgrade needs one Sec-WebSocket-Key", context: context)
        } else {
            context.fireChannelReadAndLeave(data)
        }
    }

    /// The decoder's errors on the rest of a refused request are dealt with: the connection is
    /// closing.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if refused, error is HTTPParserError || error is ByteToMessageDecoderError { return }
        context.fireErrorCaught(error)
    }

    private func refuse(
        _ status: HTTPResponseStatus, detail: String, adding headers: [(String, String)] = [], context: ChannelHandlerContext
    ) {
        refused = true
        ConnectionRefusal.write(status, detail: detail, adding: headers, context: context)
    }
}

@available(*, unavailable)
extension UpgradeRequestScreen: Sendable {}

extension HTTPRequestHead {
    /// Whether NIO's HTTP parser (llhttp) surely stops after this head, to wait for a protocol
    /// switch: it has an `Upgrade` header, and `upgrade` among its `Connection` values as the
    /// parser recognises it, between commas with nothing beside it but spaces (and tabs before
    /// it). Anything the parser might read otherwise (a tab after it, say) counts as no: the
    /// parser then goes on decoding the next request while NIO's upgrader, which does not look
    /// at `Connection`, switches protocols. (`asksConnectionUpgrade`, which trims as HTTP does,
    /// would say yes to `upgrade` followed by a tab.)
    var stopsDecoderForUpgrade: Bool {
        headers.contains(name: "upgrade")
            && headers["connection"].contains { value in
                value.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false).contains { element in
                    let leading = element.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
                    let token = leading.reversed().drop { $0 == UInt8(ascii: " ") }.reversed()
                    return token.count == 7 && zip(token, "upgrade".utf8).allSatisfy { $0 | 0x20 == $1 }
                }
            }
    }
}
