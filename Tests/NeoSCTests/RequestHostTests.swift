import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import Net

/// `RequestHost`: the one host a request names, as RFC 9112 §3.2 has it.
@Suite("Request host")
struct RequestHostTests {
    @Test("a host and port: registered names, IPv4, bracketed IP literals, %-escapes; no user, no empty host, digits for a port")
    func hostAndPort() {
        for valid in ["neosc", "neosc:8001", "127.0.0.1", "[::1]", "[::1]:443", "[v1.x]", "a-b_c~d.e", "%41%42", "neosc:", "x!$&'()*+,;="] {
            #expect(RequestHost.isValid(valid.utf8[...]), "\(valid)")
        }
        for invalid in ["", ":80", "user@neosc", "neo sc", "neosc:80a", "neosc:-1", "[::1", "[]", "[::1]x", "%4", "%zz", "né", "a/b", "a\tb"] {
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
