import Domain
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Services
import Synchronization

/// Forwards audit entries to a syslog receiver over TCP, or TLS 1.2 or later (RFC 5425, RFC 9662),
/// as RFC 5424 messages (`SyslogMessage`). Each batch goes over a connection of its own: written,
/// then closed for writing, and taken only once the receiver has read to the end and closed its
/// side (a reset in its place is no close), so a receiver that dies mid-batch costs that batch
/// again, not the entries. Connecting, writing and that close together must end within the
/// timeout; a receiver that stalls (a TLS handshake that never ends, a full window) fails the
/// batch, which is retried. TCP gives no receipt beyond that close: a receiver that exits with
/// nothing unread while the batch is still on its way closes cleanly (RELP, which acknowledges
/// each message, is not spoken).
public struct SyslogAuditSink: AuditSink {
    public let name: String
    private let host: String
    private let port: Int
    private let tls: NIOSSLContext?
    private let hostname: String
    private let timeout: TimeAmount

    /// `tcp://host:port` or `tls://host:port` (the receiver's certificate checked against the
    /// system's roots, or `caFile`'s).
    /// - Parameter timeout: how long one batch may take, connecting included.
    public init(
        url: String, caFile: String? = nil, hostname: String = ProcessInfo.processInfo.hostName, timeout: Duration = .seconds(10)
    ) throws {
        guard let components = URLComponents(string: url), let scheme = components.scheme, ["tcp", "tls"].contains(scheme),
            let host = components.host, !host.isEmpty, let port = components.port, (1...65_535).contains(port),
            components.path.isEmpty || components.path == "/", components.query == nil, components.user == nil
        else {
            throw DomainError.invalid("the syslog target must be tcp://host:port or tls://host:port")
        }
        self.host = host
        self.port = port
        if scheme == "tls" {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.minimumTLSVersion = .tlsv12
            if let caFile { configuration.trustRoots = .file(caFile) }
            tls = try NIOSSLContext(configuration: configuration)
        } else {
            tls = nil
        }
        self.hostname = hostname
        self.timeout = .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
        name = "syslog:\(scheme)://\(host):\(port)"
    }

    public func deliver(_ entries: [AuditEvent]) async throws {
        var frames = ByteBuffer()
        for entry in entries {
            frames.writeBytes(SyslogMessage.framed(entry, json: try AuditEntryJSON.encoder.encode(entry), hostname: hostname))
        }
        let tls = tls
        let host = host
        let outcome = DeliveryOutcome()
        // One deadline for the whole batch, connecting included.
        let deadline = NIODeadline.now() + timeout
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(timeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls {
                            // An address is checked against the certificate's IP names; SNI carries only names.
                            let isAddress = (try? SocketAddress(ipAddress: host, port: 0)) != nil
                            try channel.pipeline.syncOperations.addHandler(
                                NIOSSLClientHandler(context: tls, serverHostname: isAddress ? nil : host))
                        }
                        try channel.pipeline.syncOperations.addHandler(ReceiverEnding(outcome))
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            throw DomainError.unavailable("Could not reach the syslog receiver at \(host):\(port)")
        }
        // Whatever happens below, the channel is closed by the deadline (or when the task is
        // cancelled). Which came first, the receiver's close or the deadline, is settled on the
        // channel's event loop, where both run.
        channel.closeFuture.whenComplete { _ in _ = outcome.settle(.closed) }
        let expiry = channel.eventLoop.scheduleTask(deadline: deadline) {
            if outcome.settle(.expired) { channel.close(promise: nil) }
        }
        defer { expiry.cancel() }
        var dropped = false
        do {
            try await withTaskCancellationHandler {
                try await channel.writeAndFlush(frames).get()
                // Half-close (TLS: close_notify), then wait for the receiver to close its side:
                // it has read every byte. A receiver that closes with bytes unread resets the
                // connection instead (`ReceiverEnding`).
                try await channel.close(mode: .output).get()
                try await channel.closeFuture.get()
                if outcome.endedInError { dropped = true }
            } onCancel: {
                channel.close(promise: nil)
            }
        } catch {
            channel.close(promise: nil)
            dropped = true
        }
        // A cancelled delivery closed the channel itself: nothing says the batch arrived.
        try Task.checkCancellation()
        if outcome.current == .expired {
            throw DomainError.unavailable("The syslog receiver at \(host):\(port) did not take the batch in time")
        }
        if dropped {
            throw DomainError.unavailable("The syslog receiver at \(host):\(port) dropped the connection")
        }
    }
}

/// How a delivery's connection ended: the receiver's close or the deadline, whichever the event
/// loop saw first; and whether the receiver's side ended in an error rather than its close.
private final class DeliveryOutcome: Sendable {
    enum State { case running, closed, expired }

    private let state = Mutex(State.running)
    private let error = Atomic(false)

    var current: State { state.withLock { $0 } }

    /// Whether the connection failed before or instead of the receiver's close: a reset (a
    /// receiver that closes with bytes unread sends one, not a close), or any other error.
    var endedInError: Bool { error.load(ordering: .acquiring) }

    func noteError() {
        error.store(true, ordering: .releasing)
    }

    /// Settles the outcome as `ending` unless it is settled already; whether it did.
    func settle(_ ending: State) -> Bool {
        state.withLock { state in
            guard state == .running else { return false }
            state = ending
            return true
        }
    }
}

/// Watches the connection's inbound side for how the receiver ended it. A receiver that read
/// every byte closes its side (end of file; over TLS, close_notify, or a TCP close without it,
/// which NIOSSL reports as an unclean shutdown: TCP closes that way only once the receiver has
/// read everything). A receiver that closes with bytes still unread (it crashed, or gave up on
/// the batch) makes the kernel answer with a reset: the read fails, and the batch is not taken.
private final class ReceiverEnding: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    private let outcome: DeliveryOutcome

    init(_ outcome: DeliveryOutcome) {
        self.outcome = outcome
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // What a receiver sends back is not part of the protocol: dropped.
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? NIOSSLError, case .uncleanShutdown = error { return }
        outcome.noteError()
        context.close(promise: nil)
    }
}
