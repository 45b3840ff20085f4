import Domain
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// Hummingbird's HTTP/1.1 channel with NeoSC's connection limits around it: a cap per client
/// address, the header-read timeout and the idle timeout (`ConnectionLimits`). The cap on all
/// connections is the server's own (`ServerConfiguration.availableConnectionsDelegate`).
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    private let http: HTTP1Channel
    private let guards: ConnectionGuards

    init(responder: @escaping HTTPChannelHandler.Responder, limits: ConnectionLimits) {
        self.http = HTTP1Channel(responder: responder, configuration: .init(idleTimeout: TimeAmount(limits.idleTimeout)))
        self.guards = ConnectionGuards(limits: limits)
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let deadline: RequestReadDeadline
        do {
            deadline = try guards.admit(channel, logger: logger)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return http.setup(channel: channel, logger: logger).assumeIsolated().flatMapThrowing { value in
            // Right after the HTTP decoder, before Hummingbird's connection-state handler.
            let operations = channel.pipeline.syncOperations
            let connectionState = try operations.handler(type: HTTPConnectionStateHandler.self)
            try operations.addHandler(RequestHeadWatch(deadline), position: .before(connectionState))
            // After the HTTP decoder, on its types: refusals of what it cannot read, then what
            // Hummingbird's types do not carry (persistence, expectations).
            let decoder = try operations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            let unparsable = UnparsableRequestAnswer(upgradable: false, deadline: deadline, logger: logger)
            try operations.addHandler(unparsable, position: .after(decoder))
            try operations.addHandler(ContinueExpectation(upgradable: false), position: .after(unparsable))
            try operations.addHandler(ConnectionPersistence(upgradable: false), position: .after(unparsable))
            return value
        }.nonisolated()
    }

    func handle(value: Value, logger: Logger) async {
        await http.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with NeoSC's connection limits; with a stream gateway, `/streams/…` requests are
    /// upgraded to WebSockets (without one, the plain channel: no upgrade handling per connection).
    public static func guardedHTTP1(_ limits: ConnectionLimits, streams: StreamGateway? = nil) -> HTTPServerBuilder {
        .init { responder in
            let responder = ChildTaskResponder.wrapping(responder)
            if let streams {
                return GuardedStreamingChannel(responder: responder, limits: limits, gateway: streams)
            }
            return GuardedHTTP1Channel(responder: responder, limits: limits)
        }
    }
}
