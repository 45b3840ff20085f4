import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization

/// A syslog receiver on a loopback TCP port (RFC 6587 octet counting, as RFC 5425 frames it):
/// keeps every message it is sent. `stop()` closes it; `restart()` listens again on the same port.
/// How it ends each connection is its `ending`, which a test may change between batches.
final class SyslogListener: Sendable {
    enum Ending {
        /// Reads to the end, then closes (over TLS, with its own close_notify).
        case close
        /// Stops reading and resets the connection 200 ms after accepting it, as the kernel does
        /// for a receiver that exits or closes with part of a batch unread.
        case reset
        /// Over TLS: reads to the end, then closes the TCP connection without a close_notify.
        case closeWithoutNotify
    }

    private let received = Mutex<[UInt8]>([])
    private let server = Mutex<(any Channel)?>(nil)
    private let boundPort = Mutex(0)
    private let tls: NIOSSLContext?
    private let endingNow: Mutex<Ending>

    private init(tls: NIOSSLContext?, ending: Ending) {
        self.tls = tls
        self.endingNow = Mutex(ending)
    }

    var ending: Ending {
        get { endingNow.withLock { $0 } }
        set { endingNow.withLock { $0 = newValue } }
    }

    var port: Int { boundPort.withLock { $0 } }

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let listener: SyslogListener
        init(_ listener: SyslogListener) { self.listener = listener }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = Self.unwrapInboundIn(data)
            listener.received.withLock { $0 += buffer.readableBytesView }
        }
    }

    /// Stops reading once a connection carries syslog (at once over TCP, after the handshake over
    /// TLS), and 200 ms later resets it (a close with a linger of zero), with the batch unread.
    private final class Resetting: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        var reading: Bool

        init(reading: Bool) {
            self.reading = reading
        }

        func handlerAdded(context: ChannelHandlerContext) {
            let channel = context.channel
            (channel as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenSuccess {
                channel.eventLoop.scheduleTask(in: .milliseconds(200)) { channel.close(promise: nil) }
            }
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if reading { context.fireChannelRead(data) }
        }
    }

    /// First in the pipeline, before TLS: at the end of the sender's input, closes the connection
    /// from here, so the TLS layer writes no close_notify.
    private final class ClosingWithoutNotify: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case .inputClosed = event as? ChannelEvent {
                context.close(promise: nil)
                return
            }
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// Tells `Resetting` that the TLS handshake is over.
    private final class HandshakeWatch: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let resetting: Resetting

        init(_ resetting: Resetting) {
            self.resetting = resetting
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case .handshakeCompleted = event as? TLSUserEvent { resetting.reading = false }
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// A listener on a free loopback port; with `certificate` and `key` (PEM files), over TLS.
    static func start(certificate: String? = nil, key: String? = nil, ending: Ending = .close) async throws -> SyslogListener {
        var tls: NIOSSLContext?
        if let certificate, let key {
            tls = try NIOSSLContext(
                configuration: .makeServerConfiguration(
                    certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
                    privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))))
        }
        let listener = SyslogListener(tls: tls, ending: ending)
        try await listener.listen(on: 0)
        return listener
    }

    private func listen(on port: Int) async throws {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let operations = channel.pipeline.syncOperations
                    let ending = self.ending
                    let resetting = ending == .reset ? Resetting(reading: self.tls != nil) : nil
                    if let resetting { try operations.addHandler(resetting) }
                    if ending == .closeWithoutNotify {
                        // Half-closed, the connection stays open (and TLS answers the sender's
                        // close_notify with none of its own) for `ClosingWithoutNotify` to close.
                        try channel.syncOptions?.setOption(.allowRemoteHalfClosure, value: true)
                        try operations.addHandler(ClosingWithoutNotify())
                    }
                    if let tls = self.tls {
                        try operations.addHandler(NIOSSLServerHandler(context: tls))
                        if let resetting { try operations.addHandler(HandshakeWatch(resetting)) }
                    }
                    try operations.addHandler(Collector(self))
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        boundPort.withLock { $0 = channel.localAddress?.port ?? 0 }
        server.withLock { $0 = channel }
    }

    /// Every complete message received so far, in order.
    var messages: [String] {
        var bytes = received.withLock { $0 }[...]
        var messages: [String] = []
        while let space = bytes.firstIndex(of: UInt8(ascii: " ")),
            let length = Int(String(decoding: bytes[bytes.startIndex..<space], as: UTF8.self)),
            bytes.distance(from: space, to: bytes.endIndex) > length
        {
            let start = bytes.index(after: space)
            let end = bytes.index(start, offsetBy: length)
            messages.append(String(decoding: bytes[start..<end], as: UTF8.self))
            bytes = bytes[end...]
        }
        return messages
    }

    func stop() async {
        let channel = server.withLock { channel in
            defer { channel = nil }
            return channel
        }
        try? await channel?.close().get()
    }

    func restart() async throws {
        try await listen(on: port)
    }
}
