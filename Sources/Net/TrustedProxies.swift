import Domain
import Foundation

/// The proxies whose `X-Forwarded-For` NeoSC believes (`NEOSC_TRUSTED_PROXIES`).
public struct TrustedProxies: Sendable, Equatable {
    public var ranges: [AddressRange]

    public init(_ ranges: [AddressRange] = []) {
        self.ranges = ranges
    }

    public func isTrusted(_ address: String) -> Bool {
        ranges.contains { $0.contains(address) }
    }

    /// The real client: the peer itself unless it is a trusted proxy; then the right-most
    /// `X-Forwarded-For` hop that is not itself a trusted proxy. A malformed hop ends the walk at
    /// the last trusted hop, which is the one that wrote it.
    public func clientAddress(peer: String?, forwardedFor: [String]) -> String? {
        // Most requests name no hop: the peer is the client, trusted or not.
        guard var client = peer, !forwardedFor.isEmpty, isTrusted(client) else { return peer }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        for hop in hops.reversed() {
            guard AddressRange.bytes(of: hop) != nil else { break }
            client = hop
            if !isTrusted(hop) { break }
        }
        return client
    }
}
