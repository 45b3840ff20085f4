import Domain
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
// The frame handling below is swift-websocket's own (`WebSocketHandler.handle`: masking, control
// frames, the closing handshake), reached through the SPI Hummingbird's server and client use.
@_spi(WSInternal) import WSCore

/// The client side of a `ws://`/`wss://` workspace stream, with its connection in NeoSC's hands
/// from the first byte. swift-websocket's `WebSocketClient.connect` owns its channel and waits for
/// the upgrade without a deadline, so an upstream that took the connection and never answered kept
/// it open for as long as it liked; here the handshake's deadline closes the connection.
/// The connection is NIO's (`ClientBootstrap`, NIOSSL with the operator's `UpstreamTrust` and the
/// URL's host name, `NIOTypedWebSocketClientUpgrader`), the frames swift-websocket's.
struct UpstreamWebSocket: Sendable {
    /// An upstream that answered the upgrade, not yet relaying.
    struct Upgraded: Sendable {
        let channel: NIOAsyncChannel<WebSocketFrame, WebSocketFrame>
        let extensions: [any WebSocketExtension]
    }

    struct Context: WebSocketContext {
        let logger: Logger
    }

    /// The upstream answered the upgrade with something else (a 404, a 401, a plain page).
    struct Declined: Error, CustomStringConvertible {
        var description: String { "the upstream declined the WebSocket upgrade" }
    }

    /// The upgrade had no answer by the deadline; the connection was closed.
    struct TimedOut: Error, CustomStringConvertible {
        var description: String { "the upstream did not answer the WebSocket upgrade in time" }
    }

    private enum UpgradeResult: Sendable {
        case websocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, [any WebSocketExtension])
        case notUpgraded
    }

    let upstream: StreamUpstream
    /// Asked of the upstream in `Sec-WebSocket-Protocol`: the one the browser was answered with.
    let subprotocol: String?
    let maxFrameSize: Int
    let closeTimeout: Duration
    /// For `wss://`.
    let trust: UpstreamTrust
    let logger: Logger

    /// Connects within `connectTimeout` and has the upgrade answered within `answerTimeout` after
    /// that; past either (or on any failure) the connection is closed and this throws.
    func connect(on eventLoop: any EventLoop, connectTimeout: Duration, answerTimeout: Duration) async throws -> Upgraded {
        let tls = upstream.scheme == .wss ? try trust.context.get() : nil
        let (channel, upgrade) = try await ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(connectTimeout))
            .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .connect(host: upstream.host, port: upstream.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    (channel, try configure(channel, tls: tls))
                }
            }
        // The answer is the upgrade's, or the deadline's: decided on the channel's event loop, so
        // an upgrade that completes cancels the deadline before it can fire, and a deadline that
        // fires decides at once (a TLS close waits for the peer's close_notify; the browser need not).
        let answer = channel.eventLoop.makePromise(of: UpgradeResult.self)
        let giveUp = channel.eventLoop.scheduleTask(in: TimeAmount(answerTimeout)) {
            answer.fail(TimedOut())
            channel.close(promise: nil)
        }
        upgrade.whenComplete { _ in giveUp.cancel() }
        upgrade.cascade(to: answer)
        let result: UpgradeResult
        do {
            result = try await answer.futureResult.get()
        } catch {
            channel.close(promise: nil)
            throw error
        }
        switch result {
        case .websocket(let channel, let extensions):
            return Upgraded(channel: channel, extensions: extensions)
        case .notUpgraded:
            channel.close(promise: nil)
            throw Declined()
        }
    }

    /// Runs `handler` over the upgraded connection until the WebSocket closes, then closes it.
    func run(_ upgraded: Upgraded, handler: @escaping WebSocketDataHandler<Context>) async throws {
        _ = try await WebSocketHandler.handle(
            type: .client,
            configuration: .init(
                extensions: upgraded.extensions, autoPing: .disabled, closeTimeout: closeTimeout, validateUTF8: false,
                maxFrameSize: maxFrameSize),
            asyncChannel: upgraded.channel, context: Context(logger: logger), handler: handler)
    }

    /// TLS for `wss://`, then HTTP/1.1 with the upgrade request: what swift-websocket's client sends.
    private func configure(_ channel: any Channel, tls: NIOSSLContext?) throws -> EventLoopFuture<UpgradeResult> {
        let upgrader = NIOTypedWebSocketClientUpgrader<UpgradeResult>(maxFrameSize: maxFrameSize) { channel, _ in
            channel.eventLoop.makeCompletedFuture {
                .websocket(try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(wrappingChannelSynchronously: channel), [])
            }
        }
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "\(upstream.hostInURL):\(upstream.port)")
        headers.add(name: "Origin", value: "\(upstream.scheme.rawValue)://\(upstream.hostInURL)")
        if let subprotocol { headers.add(name: "Sec-WebSocket-Protocol", value: subprotocol) }
        let request = HTTPRequestHead(version: .http1_1, method: .GET, uri: upstream.target, headers: headers)
        var configuration = NIOUpgradableHTTPClientPipelineConfiguration(
            upgradeConfiguration: NIOTypedHTTPClientUpgradeConfiguration(
                upgradeRequestHead: request, upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in channel.eventLoop.makeSucceededFuture(.notUpgraded) }))
        configuration.leftOverBytesStrategy = .forwardBytes
        if let tls {
            // A host name is sent (SNI) and checked against the certificate; an address is checked
            // against the certificate's IP addresses, and never sent (SNI takes no addresses).
            let name = AddressRange.bytes(of: upstream.host) == nil ? upstream.host : nil
            let handler = try NIOSSLClientHandler(context: tls, serverHostname: name)
            try channel.pipeline.syncOperations.addHandler(handler, position: .first)
        }
        return try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(configuration: configuration)
    }
}
