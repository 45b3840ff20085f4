import Foundation
import NIOCore
import NIOHTTP1

/// Carries what HTTP/1 says of a connection's persistence into what Hummingbird reads of it.
/// Hummingbird closes a connection after a request only when that request's `Connection` header
/// is exactly `close`; it keeps every other one open. Ends a connection, here:
/// - a request that does not keep it: `close` among its connection options, in any case
///   (`Close`, `close, TE`; RFC 9112 §9.6), or an HTTP/1.0 request: such a client may read the
///   answer until the connection closes (HTTP/1.0's keep-alive extension is not offered);
/// - a request asking for an upgrade (`Connection: upgrade` with `Upgrade`), or a `CONNECT`, on a
///   pipeline that does not switch protocols for it: the HTTP decoder reads nothing after it,
///   waiting for the switch, so the client's next request lay unread until the idle timeout.
///
/// Such a request is passed on with `Connection: close`, its answer carries `Connection: close`,
/// and Hummingbird closes the connection once that answer is written. An answer to an HTTP/1.0
/// request is an HTTP/1.0 answer, so that a body of unknown length is not sent chunked (a
/// transfer coding HTTP/1.0 does not have, RFC 9112 §6.1) but ends with the connection.
///
/// On the HTTP decoder's types, right after it. On a connection that may become a stream, the
/// handler leaves the pipeline at a first head NIO may upgrade.
final class ConnectionPersistence: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private var departure: UpgradeDeparture
    /// Request heads read, and final answer heads written.
    private var requestsRead = 0
    private var answersStarted = 0
    /// The request the connection ends with (its place among the connection's requests, counted
    /// from 1), and the version it was asked in.
    private var lastRequest: (number: Int, version: HTTPVersion)?

    init(upgradable: Bool) {
        departure = UpgradeDeparture(upgradable: upgradable)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        requestsRead += 1
        if departure.leaves(at: head) {
            context.fireChannelReadAndLeave(data)
            return
        }
        guard lastRequest == nil, Self.endsConnection(head) else {
            context.fireChannelRead(data)
            return
        }
        lastRequest = (requestsRead, head.version)
        head.headers.replaceOrAdd(name: "Connection", value: "close")
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .head(var head) = unwrapOutboundIn(data), !head.status.isInterim else {
            context.write(data, promise: promise)
            return
        }
        answersStarted += 1
        let endsConnection = lastRequest?.number == answersStarted
        // Hummingbird's 307 to a WebSocket upgrade asked on a later request (`Upgrade: websocket`,
        // with or without `Connection: upgrade`) met no middleware.
        guard endsConnection || head.status == .temporaryRedirect else {
            context.write(data, promise: promise)
            return
        }
        if endsConnection {
            head.headers.replaceOrAdd(name: "Connection", value: "close")
            if lastRequest?.version.precedesHTTP11 == true {
                head.version = .http1_0
            }
        }
        // An answer that met no middleware (that 307, the ticket in its `Location`) gets the
        // fields every other answer carries.
        if !head.headers.contains(name: "x-content-type-options") {
            head.headers.add(contentsOf: ConnectionRefusal.policyHeaders)
        }
        context.write(wrapOutboundOut(.head(head)), promise: promise)
    }

    /// Whether the connection closes once `head` is answered.
    static func endsConnection(_ head: HTTPRequestHead) -> Bool {
        if head.version.precedesHTTP11 || !head.isKeepAlive || head.stopsParser { return true }
        // NIO's `isKeepAlive` keeps a tab around an option (`close<TAB>`), which swift-http-types
        // trims, and Hummingbird then reads as `close`. One pass, nothing allocated unless a
        // `Connection` field holds a tab.
        for (name, value) in head.headers where name.utf8.count == 10 && value.utf8.contains(UInt8(ascii: "\t")) {
            if name.lowercased() == "connection", value.connectionOptions.contains("close") { return true }
        }
        return false
    }
}

@available(*, unavailable)
extension ConnectionPersistence: Sendable {}

extension HTTPRequestHead {
    /// Whether NIO's parser stops after this head, waiting for a switch of protocols: a `CONNECT`,
    /// or a request asking for an upgrade. Nothing after it on the connection is parsed.
    var stopsParser: Bool {
        method == .CONNECT || (headers.contains(name: "upgrade") && asksConnectionUpgrade)
    }

    /// Whether `upgrade` is among the request's connection options (in any case), in `Connection`
    /// or in `Proxy-Connection`, which NIO's parser reads as the same (and so stops after it).
    var asksConnectionUpgrade: Bool {
        (headers[canonicalForm: "connection"] + headers[canonicalForm: "proxy-connection"]).contains { $0.lowercased() == "upgrade" }
    }
}

extension String {
    /// A `Connection` field's options, lower-cased, without the spaces and tabs around them.
    var connectionOptions: [String] {
        split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " \t")).lowercased() }
    }
}

extension HTTPVersion {
    /// HTTP/1.0 or older: no chunked coding, no interim answers, persistence only by extension.
    var precedesHTTP11: Bool {
        (major, minor) < (1, 1)
    }
}

extension HTTPResponseStatus {
    /// A 1xx answer other than 101: another head, the final answer, follows it.
    var isInterim: Bool {
        (100..<200).contains(code) && code != 101
    }
}
