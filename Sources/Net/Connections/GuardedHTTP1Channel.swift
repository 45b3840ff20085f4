import Domain
import HummingbirdCore
import Logging
import NIOCore

/// Hummingbird's HTTP/1.1 channel with NeoSC's connection limits around it: a cap per client
/// address, the header-read timeout and the idle timeout (`ConnectionLimits`). The cap on all
/// connections is the server's own (`ServerConfiguration.availableConnectionsDelegate`).
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    private let http: HTTP1Channel
    private let limits: ConnectionLimits
    private let census: AddressCensus?

    init(responder: @escaping HTTPChannelHandler.Responder, limits: ConnectionLimits) {
        self.http = HTTP1Channel(responder: responder, configuration: .init(idleTimeout: TimeAmount(limits.idleTimeout)))
        self.limits = limits
        self.census = limits.perAddress > 0 ? AddressCensus(limit: limits.perAddress) : nil
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        if let census, let address = channel.remoteAddress?.ipAddress, !limits.exempt.isTrusted(address),
            let key = AddressRange.clientKey(of: address)
        {
            switch census.admit(key) {
            case .admitted:
                channel.closeFuture.whenComplete { _ in census.release(key) }
            case .refused(let first):
                if first {
                    logger.notice(
                        "Connections refused: too many from one client (reported once until it is under the limit again)",
                        metadata: ["client": .string(key), "limit": .stringConvertible(limits.perAddress)])
                }
                // Closed once set up: failing the set-up instead would reach the listening
                // channel as an error and end the accept loop.
                channel.eventLoop.execute { channel.close(promise: nil) }
            }
        }
        let deadline = RequestHeadDeadline(limit: TimeAmount(limits.headerTimeout))
        do {
            try channel.pipeline.syncOperations.addHandler(RequestStartWatch(deadline), position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return http.setup(channel: channel, logger: logger).assumeIsolated().flatMapThrowing { value in
            // Right after the HTTP decoder, before Hummingbird's connection-state handler.
            let operations = channel.pipeline.syncOperations
            let connectionState = try operations.handler(type: HTTPConnectionStateHandler.self)
            try operations.addHandler(RequestHeadWatch(deadline), position: .before(connectionState))
            return value
        }.nonisolated()
    }

    func handle(value: Value, logger: Logger) async {
        await http.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with NeoSC's connection limits.
    public static func guardedHTTP1(_ limits: ConnectionLimits) -> HTTPServerBuilder {
        .init { responder in GuardedHTTP1Channel(responder: responder, limits: limits) }
    }
}
