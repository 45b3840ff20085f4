import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 network in CIDR notation (`10.0.0.0/8`, `fd00::/8`, or one address).
public struct AddressRange: Sendable, Equatable, CustomStringConvertible {
    private let network: [UInt8]
    private let prefixLength: Int
    public let description: String

    /// Nil when `text` is not an address or CIDR block.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let bytes = Self.bytes(of: String(parts[0])) else { return nil }
        let maximum = bytes.count * 8
        let length: Int
        if parts.count == 2 {
            guard let parsed = Int(parts[1]), (0...maximum).contains(parsed), parts[1].allSatisfy(\.isNumber)
            else { return nil }
            length = parsed
        } else {
            length = maximum
        }
        self.network = bytes
        self.prefixLength = length
        self.description = text
    }

    public func contains(_ address: String) -> Bool {
        guard let bytes = Self.bytes(of: address) else { return false }
        return contains(bytes: bytes)
    }

    /// `contains` for an address already parsed by `bytes(of:)`.
    public func contains(bytes: [UInt8]) -> Bool {
        guard bytes.count == network.count else { return false }
        var remaining = prefixLength
        for (candidate, base) in zip(bytes, network) where remaining > 0 {
            let bits = min(remaining, 8)
            let mask: UInt8 = bits == 8 ? 0xFF : ~(0xFF >> UInt8(bits))
            if candidate & mask != base & mask { return false }
            remaining -= bits
        }
        return true
    }

    /// What one client is counted as (connections per client, rate limits by address): an IPv4
    /// address, or the /64 of an IPv6 one, which one host usually holds whole (`2001:db8:1:2::/64`).
    /// `bytes` as `bytes(of:)` answers them.
    public static func clientKey(of bytes: [UInt8]) -> String {
        guard bytes.count == 16 else { return bytes.map(String.init).joined(separator: ".") }
        let groups = stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
        return groups.joined(separator: ":") + "::/64"
    }

    /// `clientKey(of:)` for an address in text; nil when `text` is not an address.
    public static func clientKey(of text: String) -> String? {
        bytes(of: text).map { clientKey(of: $0) }
    }

    /// `clientKey(of:)` for `text`, or `text` itself when it is not an address (`unknown`, when no
    /// peer address was known): what throttles keyed by a caller's address count it as.
    public static func clientKey(forAddress text: String) -> String {
        clientKey(of: text) ?? text
    }

    /// The address's bytes: 4 for IPv4 (IPv4-mapped IPv6 counts as IPv4), 16 for IPv6; nil if not an address.
    public static func bytes(of text: String) -> [UInt8]? {
        // inet_pton reads a C string: whatever follows a NUL would be ignored, so that
        // "fd00::\0anything" would read as fd00:: (found by fuzzing, Fuzz/Crashes/cidr-nul-in-range.bin).
        guard !text.utf8.contains(0) else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            return Array(bytes[12...])
        }
        return bytes
    }
}
