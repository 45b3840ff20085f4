import Domain
import HummingbirdCore
import Logging
import NIOCore

/// What every accepted connection goes through before HTTP: the cap per client address, and the
/// read deadlines' first half (`RequestStartWatch`, before the decoder). Shared by the
/// plain and the streaming channel.
struct ConnectionGuards: Sendable {
    private let limits: ConnectionLimits
    private let census: AddressCensus?

    init(limits: ConnectionLimits) {
        self.limits = limits
        self.census = limits.perAddress > 0 ? AddressCensus(limit: limits.perAddress) : nil
    }

    /// Counts `channel` against its client's cap (closing it if over) and installs the start of
    /// the read deadlines, which the caller completes after the HTTP decoder.
    func admit(_ channel: any Channel, logger: Logger) throws -> RequestReadDeadline {
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
        // NIO keeps a connection's receive buffer for its next read, 2 KiB to start with: a
        // request's head is mostly smaller, and an idle connection then holds 512 bytes. The
        // buffer still grows, up to 64 KiB, for reads that fill it.
        try channel.syncOptions?.setOption(ChannelOptions.recvAllocator, value: Self.receiveBuffers)
        let deadline = RequestReadDeadline(headLimit: TimeAmount(limits.headerTimeout), bodyLimit: TimeAmount(limits.bodyTimeout))
        try channel.pipeline.syncOperations.addHandler(RequestStartWatch(deadline), position: .first)
        return deadline
    }

    static let receiveBuffers = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65_536)
}
