import NIOSSL

/// What a `wss://` upstream's certificate must chain to: the system's trust store (the image's
/// `ca-certificates`), or only the certificates an operator names (`NEOSC_STREAM_UPSTREAM_CA`, for
/// desktops behind an internal CA). TLS 1.2 or later either way. One client context, made once.
public struct UpstreamTrust: Sendable {
    let context: Result<NIOSSLContext, any Error>

    /// The system's trust store, loaded on first use (a failure to load it fails each `wss://`
    /// stream, as an untrusted certificate would).
    public static let system = UpstreamTrust(context: Result { try NIOSSLContext(configuration: configuration(.default)) })

    /// Only `certificates` (CA certificates, or a desktop's own self-signed one); throws when
    /// they do not make a TLS context.
    public init(certificates: [NIOSSLCertificate]) throws {
        self.init(context: .success(try NIOSSLContext(configuration: Self.configuration(.certificates(certificates)))))
    }

    private init(context: Result<NIOSSLContext, any Error>) {
        self.context = context
    }

    private static func configuration(_ roots: NIOSSLTrustRoots) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.trustRoots = roots
        return configuration
    }
}
