import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import Net

/// `RequestHost`: the one host a request names, as RFC 9112 §3.2 has it.
@Suite("Request host")
struct RequestHostTests {
    @Test("a host and port: DNS names, IPv4, bracketed IPv6; no user, no empty host, no punctuation a name cannot have, digits for a port")
    func hostAndPort() {
        for valid in ["neosc", "neosc:8001", "127.0.0.1", "[::1]", "[::1]:443", "[::ffff:127.0.0.1]", "a-b_c.d", "Neo-SC.Example.", "neosc:"] {
            #expect(RequestHost.isValid(valid.utf8[...]), "\(valid)")
        }
        let invalid = [
            "", ":80", "user@neosc", "neo sc", "neosc:80a", "neosc:-1", "[::1", "[]", "[::1]x", "né", "a/b", "a\tb",
            // RFC 3986 allows these in a name; no DNS name or address has them, and a proxy joining
            // two Host fields makes the first.
            "neosc,evil.example", "a;b", "%41b", "x!$&'()*+=", "a~b", "[evil.example]", "[v1.x]",
        ]
        for invalid in invalid {
            #expect(!RequestHost.isValid(invalid.utf8[...]), "\(invalid)")
        }
    }

    @Test("an absolute-form target's authority, in any case of its scheme; none for origin form or another scheme")
    func absoluteFormAuthority() {
        let cases: [(target: String, authority: String?)] = [
            ("http://neosc.example/health", "neosc.example"), ("HTTPS://neosc.example:8443?x", "neosc.example:8443"),
            ("http://neosc.example", "neosc.example"), ("http://neosc.example#f", "neosc.example"), ("http:///x", ""),
            ("/health", nil), ("*", nil), ("ftp://neosc.example/", nil), ("neosc.example:443", nil), ("http:/x", nil),
        ]
        for (target, authority) in cases {
            #expect(RequestHost.absoluteFormAuthority(of: target).map { String(Substring($0)) } == authority, "\(target)")
        }
    }

    @Test("the request's host is the one its absolute-form target names, whatever its Host said (RFC 9112 §3.2.2)")
    func absoluteFormTargetNamesTheHost() throws {
        let channel = EmbeddedChannel(handler: UnparsableRequestAnswer(upgradable: false, logger: Logger(label: "test")))
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "http://neosc.example:8001/health")
        head.headers.add(name: "Host", value: "elsewhere.example")
        try channel.writeInbound(HTTPServerRequestPart.head(head))
        let passed = try #require(try channel.readInbound(as: HTTPServerRequestPart.self))
        guard case .head(let read) = passed else {
            Issue.record("not a head: \(passed)")
            return
        }
        #expect(read.headers["host"] == ["neosc.example:8001"])
        #expect(try channel.finish().isClean)
    }
}
