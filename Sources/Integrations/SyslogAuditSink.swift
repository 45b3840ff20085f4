import Domain
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Services

/// Forwards audit entries to a syslog receiver over TCP, or TLS (RFC 5425), as RFC 5424 messages
/// (`SyslogMessage`). Each batch goes over a connection of its own that is closed once every
/// byte is written, so a receiver that restarts costs one failed batch, which is sent again.
public struct SyslogAuditSink: AuditSink {
    public let name: String
    private let host: String
    private let port: Int
    private let tls: NIOSSLContext?
    private let hostname: String
    private let timeout: TimeAmount

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// `tcp://host:port` or `tls://host:port` (the receiver's certificate checked against the
    /// system's roots, or `caFile`'s).
    public init(url: String, caFile: String? = nil, hostname: String = ProcessInfo.processInfo.hostName) throws {
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
            if let caFile { configuration.trustRoots = .file(caFile) }
            tls = try NIOSSLContext(configuration: configuration)
        } else {
            tls = nil
        }
        self.hostname = hostname
        timeout = .seconds(10)
        name = "syslog:\(scheme)://\(host):\(port)"
    }

    public func deliver(_ entries: [AuditEvent]) async throws {
        var frames = ByteBuffer()
        for entry in entries {
            frames.writeBytes(SyslogMessage.framed(entry, json: try Self.encoder.encode(entry), hostname: hostname))
        }
        let tls = tls
        let host = host
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(timeout)
                .channelInitializer { channel in
                    guard let tls else { return channel.eventLoop.makeSucceededVoidFuture() }
                    return channel.eventLoop.makeCompletedFuture {
                        // An address is checked against the certificate's IP names; SNI carries only names.
                        let isAddress = (try? SocketAddress(ipAddress: host, port: 0)) != nil
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tls, serverHostname: isAddress ? nil : host))
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            throw DomainError.unavailable("Could not reach the syslog receiver at \(host):\(port)")
        }
        do {
            try await channel.writeAndFlush(frames).get()
            // Closing waits for the bytes (and TLS's close_notify) to be handed to the kernel.
            try await channel.close().get()
        } catch {
            try? await channel.close().get()
            throw DomainError.unavailable("The syslog receiver at \(host):\(port) dropped the connection")
        }
    }
}
