import Foundation

/// Where a workspace's stream comes from, which NeoSC connects to and relays to the browser:
/// raw VNC/RFB over TCP (`vnc://host:5901`), bridged as binary WebSocket frames, or a WebSocket
/// (`ws://…`, `wss://…`: KasmVNC, Guacamole's tunnel) passed through with its subprotocol.
public struct StreamUpstream: Sendable, Equatable, CustomStringConvertible {
    public enum Scheme: String, Sendable, CaseIterable {
        case vnc
        case ws
        case wss
    }

    public let scheme: Scheme
    /// A host name (lower-cased) or an IP address (IPv6 without brackets).
    public let host: String
    public let port: Int
    /// For WebSocket upstreams, the path and query to open (`/` when none); empty for `vnc`.
    public let target: String

    /// The host as a URL or a `Host` header names it: an IPv6 address in brackets.
    public var hostInURL: String { host.contains(":") ? "[\(host)]" : host }

    /// The upstream as the workspace stores it.
    public var description: String {
        "\(scheme.rawValue)://\(hostInURL):\(port)\(target)"
    }

    /// The upstream as logs and the audit trail show it: without its query, where a tunnel's token
    /// (Guacamole's) would be.
    public var shown: String {
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        return "\(scheme.rawValue)://\(hostInURL):\(port)\(path)"
    }

    /// The most characters an upstream may take.
    public static let maximumLength = 1_024

    /// Parses `text`: one of the three schemes, a host, an explicit or default port (5900 for
    /// `vnc`, 80/443 for `ws`/`wss`), no user information, no fragment, and for `vnc` nothing
    /// after the port.
    public init(_ text: String) throws(DomainError) {
        let field = "stream_upstream"
        guard text.count <= Self.maximumLength, text.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 32 && $0.value < 127 })
        else {
            throw .invalid("\(field) must be at most \(Self.maximumLength) printable ASCII characters")
        }
        guard let components = URLComponents(string: text), let schemeText = components.scheme?.lowercased(),
            let scheme = Scheme(rawValue: schemeText)
        else {
            throw .invalid("\(field) must be a vnc://, ws:// or wss:// URL")
        }
        guard components.user == nil, components.password == nil else {
            throw .invalid("\(field) must not carry user information")
        }
        guard components.fragment == nil else { throw .invalid("\(field) must not have a fragment") }
        var host = (components.host ?? "").lowercased()
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, AddressRange.bytes(of: host) != nil || Self.isHostName(host) else {
            throw .invalid("\(field) must name a host")
        }
        // A port too large for any integer is read as none: not the default port for that.
        guard !Validation.writesAnUnreadablePort(components, in: text) else { throw .invalid("\(field) has a port out of range") }
        let port = components.port ?? (scheme == .vnc ? 5900 : scheme == .ws ? 80 : 443)
        guard (1...65_535).contains(port) else { throw .invalid("\(field) has a port out of range") }
        var target = components.percentEncodedPath
        if let query = components.percentEncodedQuery { target += "?" + query }
        if scheme == .vnc {
            guard target.isEmpty || target == "/" else {
                throw .invalid("\(field): a vnc:// upstream is a host and port, nothing after it")
            }
            target = ""
        } else if target.isEmpty || target.hasPrefix("?") {
            target = "/" + target
        }
        self.scheme = scheme
        self.host = host
        self.port = port
        self.target = target
    }

    /// A DNS name: dot-separated labels of letters, digits and dashes. One whose last label is a
    /// number (`127.1`, `2130706433`, `0x7f000001`) is not: the resolver's address parser reads it
    /// as an address, so what is dialled would not be what the allowlist matched as a name.
    private static func isHostName(_ host: String) -> Bool {
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        guard host.utf8.count <= 253, let last = labels.last else { return false }
        let numeric =
            last.allSatisfy(\.isASCII)
            && (last.allSatisfy(\.isNumber) || last.lowercased().hasPrefix("0x") && last.dropFirst(2).allSatisfy(\.isHexDigit))
        return !numeric
            && labels.allSatisfy { label in
                (1...63).contains(label.count) && !label.hasPrefix("-") && !label.hasSuffix("-")
                    && label.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) && $0.isASCII || $0 == "-" }
            }
    }
}

/// The upstreams an operator lets NeoSC connect to (`NEOSC_STREAM_UPSTREAMS`): address ranges
/// and host names. Nothing else is ever dialled, so a workspace field cannot turn NeoSC into a
/// way into the operator's network. Empty: streaming is off.
public struct StreamUpstreamAllowlist: Sendable, Equatable {
    public let ranges: [AddressRange]
    /// Lower-cased host names, matched exactly.
    public let hosts: Set<String>

    public init(ranges: [AddressRange] = [], hosts: Set<String> = []) {
        self.ranges = ranges
        self.hosts = Set(hosts.map { $0.lowercased() })
    }

    /// An entry of the list that is neither an address, a CIDR block nor a host name.
    public struct InvalidEntry: Error, Equatable, CustomStringConvertible {
        public let entry: String
        public var description: String { entry }

        public init(entry: String) {
            self.entry = entry
        }
    }

    /// Parses a comma-separated list of CIDR blocks, addresses and host names; a failure names
    /// the first entry that is none of these.
    public static func parse(_ text: String) -> Result<StreamUpstreamAllowlist, InvalidEntry> {
        var ranges: [AddressRange] = []
        var hosts: Set<String> = []
        for raw in text.split(separator: ",") {
            let entry = raw.trimmingCharacters(in: .whitespaces)
            if entry.isEmpty { continue }
            if let range = AddressRange(entry) {
                ranges.append(range)
            } else if let upstream = try? StreamUpstream("vnc://\(entry)"), upstream.port == 5900,
                AddressRange.bytes(of: upstream.host) == nil, upstream.host == entry.lowercased()
            {
                hosts.insert(upstream.host)
            } else {
                return .failure(InvalidEntry(entry: entry))
            }
        }
        return .success(StreamUpstreamAllowlist(ranges: ranges, hosts: hosts))
    }

    public var isEmpty: Bool { ranges.isEmpty && hosts.isEmpty }

    /// Whether `upstream` may be stored on a workspace and dialled: its host is a listed name, or
    /// an address in a listed range. A name must be listed as such: one that merely resolves into
    /// a listed range is refused, so what is dialled never depends on what DNS answers.
    public func permits(_ upstream: StreamUpstream) -> Bool {
        hosts.contains(upstream.host) || permits(address: upstream.host)
    }

    /// Whether NeoSC may connect to `address` (an IP address in text).
    public func permits(address: String) -> Bool {
        guard let bytes = AddressRange.bytes(of: address) else { return false }
        return ranges.contains { $0.contains(bytes: bytes) }
    }
}
