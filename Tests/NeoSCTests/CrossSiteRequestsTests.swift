import HTTPTypes
import Testing

@testable import Net

@Suite("Cross-site requests")
struct CrossSiteRequestsTests {
    let rule = CrossSiteRequests(publicURL: "https://portal.example.com", corsOrigins: [])

    func refusal(origin: String, host: String) -> String? {
        var fields = HTTPFields()
        fields[.origin] = origin
        return rule.refusal(method: .post, headers: fields, authority: host)
    }

    /// Known since the twenty-second session: `Host: x:80` against `Origin: http://x` was refused.
    @Test("without Sec-Fetch-Site, an Origin is this host's whether or not the Host names its scheme's default port")
    func defaultPortsAreTheSameHost() {
        for (origin, host) in [
            ("http://x.example", "x.example"), ("http://x.example", "x.example:80"), ("https://x.example", "X.Example:443"),
            ("http://x.example:8080", "x.example:8080"), ("http://[::1]", "[::1]:80"),
        ] {
            #expect(refusal(origin: origin, host: host) == nil, "\(origin) sent to \(host)")
        }
        for (origin, host) in [
            ("http://x.example", "x.example:443"), ("https://x.example", "x.example:80"), ("http://x.example", "x.example:8080"),
            ("http://x.example:8080", "x.example"), ("http://evil.example", "x.example"), ("http://x.example", "evil.x.example:80"),
            ("null", "x.example"),
        ] {
            #expect(refusal(origin: origin, host: host) == "origin_not_this_host", "\(origin) sent to \(host)")
        }
    }
}
