import Foundation
import HTTPTypes

/// Whether a request that may change something was sent by a browser for another site's page
/// (why that matters: `CrossSiteRequestGuard`).
///
/// A request with a JSON body declared as such needs a CORS preflight first, but one without a
/// body, or with one of no declared type (a `Blob`), does not. So the browser's own word on where
/// a request comes from decides, as Go's `net/http.CrossOriginProtection` has it: `Sec-Fetch-Site`
/// when sent (every current browser sends it), else `Origin` against the request's host. A request
/// with neither comes from no browser (a command-line client, a service) and is let through, as
/// are the safe methods, which change nothing.
struct CrossSiteRequests: Sendable {
    /// Origins (`scheme://host[:port]`) whose pages may make such requests: NeoSC's own public URL
    /// and the API's listed CORS origins.
    let trustedOrigins: Set<String>

    init(publicURL: String?, corsOrigins: [String]) {
        var trusted = Set(corsOrigins.map { $0.lowercased() })
        if let publicURL, let origin = Self.origin(of: publicURL) { trusted.insert(origin) }
        trustedOrigins = trusted
    }

    /// Why the request is refused (a short reason, for the audit entry), or nil when it is not.
    func refusal(method: HTTPRequest.Method, headers: HTTPFields, authority: String?) -> String? {
        switch method {
        case .get, .head, .options: return nil
        default: break
        }
        let origin = headers[.origin]?.lowercased()
        if let site = headers[.secFetchSite]?.lowercased() {
            // `none`: the person asked for it themselves (typed it, a bookmark).
            if site == "same-origin" || site == "none" { return nil }
            if let origin, trustedOrigins.contains(origin) { return nil }
            return "sec_fetch_site_\(site == "same-site" ? "same_site" : "cross_site")"
        }
        guard let origin else { return nil }
        if trustedOrigins.contains(origin) { return nil }
        // The Origin's host and port against the Host the request was sent to, which may name the
        // scheme's default port that an Origin leaves out (Go's check would refuse that). The
        // scheme itself is not compared, as Go's is not: the Host does not say which one the
        // request came by.
        if let authority, let schemeEnd = origin.range(of: "://") {
            var host = authority.lowercased()
            if let defaultPort = Self.defaultPorts[String(origin[..<schemeEnd.lowerBound])], host.hasSuffix(defaultPort) {
                host.removeLast(defaultPort.count)
            }
            if origin[schemeEnd.upperBound...] == host { return nil }
        }
        return "origin_not_this_host"
    }

    private static let defaultPorts = ["http": ":80", "https": ":443"]

    /// `scheme://host[:port]` of `url`, lower-cased, as a browser's `Origin` spells it (a default
    /// port left out).
    static func origin(of url: String) -> String? {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            var host = components.host?.lowercased(), !host.isEmpty
        else { return nil }
        if host.contains(":"), !host.hasPrefix("[") { host = "[\(host)]" }  // an IPv6 address, bracketed as in a URL
        let defaultPort = scheme == "https" ? 443 : scheme == "http" ? 80 : nil
        guard let port = components.port, port != defaultPort else { return "\(scheme)://\(host)" }
        return "\(scheme)://\(host):\(port)"
    }
}

extension HTTPField.Name {
    static let secFetchSite = Self("Sec-Fetch-Site")!
}
