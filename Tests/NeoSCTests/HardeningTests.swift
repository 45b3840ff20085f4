import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOPosix
import Net
import Services
import Synchronization
import TestSupport
import Testing

@testable import App

/// What an attack on a running NeoSC broke (issue "Hardening"), each held by a test.
@Suite("Hardening: bounded input, bounded records")
struct HardeningTests {
    @Test("a login with an e-mail or password no account could have is a 422 before any work: no audit row, no throttle key")
    func oversizeLoginIsRefusedBeforeAnyWork() async throws {
        try await Harness.run { harness, client in
            let huge = String(repeating: "x", count: 200_000) + "@example.com"
            for (email, password) in [(huge, "whatever!"), ("a@example.com", String(repeating: "p", count: 600))] {
                let reply = try await client.send(.post, "/api/auth/login", json: body(["email": email, "password": password]))
                #expect(reply.status == .unprocessableContent, "\(reply.text.prefix(200))")
                #expect(try reply.decoded(ErrorBody.self).detail.contains("too long"))
            }
            #expect(try await harness.store.events(AuditQuery(limit: 10)).isEmpty, "nothing recorded")
            // Nothing was counted either: an account sent with an oversize password still has all
            // ten tries, and the eleventh is the one held back.
            try await harness.account(.user, email: "ivan@example.com")
            let oversize = try await client.send(
                .post, "/api/auth/login", json: body(["email": "ivan@example.com", "password": String(repeating: "p", count: 600)]))
            #expect(oversize.status == .unprocessableContent)
            for _ in 0..<10 {
                let reply = try await client.send(.post, "/api/auth/login", json: body(["email": "ivan@example.com", "password": "wrong one!"]))
                #expect(reply.status == .unauthorized)
            }
            let eleventh = try await client.send(.post, "/api/auth/login", json: body(["email": "ivan@example.com", "password": "wrong one!"]))
            #expect(eleventh.status == .tooManyRequests)
        }
    }

    @Test("a JSON body declared as another type (what another site's page may send unasked) is a 415, before any work")
    func bodiesDeclaredNotJSONAreRefused() async throws {
        try await Harness.run { harness, client in
            let (admin, adminToken) = try await harness.account(.admin)
            let recorded = try await harness.store.events(AuditQuery(limit: 1_000)).count
            let registration = #"{"email":"visitor@example.org","name":"Visitor","password":"a long enough password"}"#
            let login = #"{"email":"\#(admin.email)","password":"not the password at all"}"#
            let refusedTypes = [
                "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                "application/xml",
            ]
            for type in refusedTypes {
                for (path, json) in [("/api/auth/register", registration), ("/api/auth/login", login)] {
                    let reply = try await client.execute(
                        uri: path, method: .post, headers: [.contentType: type], body: ByteBuffer(string: json))
                    #expect(reply.status == .unsupportedMediaType, "\(type) to \(path): \(reply.status)")
                    #expect(String(buffer: reply.body).contains("Content-Type must be application/json"), "\(type) to \(path)")
                }
            }
            #expect(try await harness.store.user(email: "visitor@example.org") == nil, "no account was made")
            #expect(try await harness.store.events(AuditQuery(limit: 1_000)).count == recorded, "nothing was tried, nothing recorded")
            // JSON by any of its names, or by no declared type at all, is read.
            for type: String? in ["application/json", "Application/JSON; charset=utf-8", "application/merge-patch+json", nil] {
                var headers: HTTPFields = [.authorization: "Bearer \(adminToken)"]
                if let type { headers[.contentType] = type }
                let reply = try await client.execute(
                    uri: "/api/policies/evaluate", method: .post, headers: headers,
                    body: ByteBuffer(string: #"{"role":"user","action":"launch"}"#))
                #expect(reply.status != .unsupportedMediaType, "\(type ?? "none"): \(reply.status)")
            }
            let refused = try await client.execute(
                uri: "/api/auth/login", method: .post, headers: [:], body: ByteBuffer(string: login))
            #expect(refused.status == .unauthorized, "no declared type: read as JSON")
        }
    }

    @Test("another site's page cannot use its visitors' browsers on the open routes with a body of no declared type: 403, nothing done")
    func crossSiteBodiesWithoutATypeAreRefused() async throws {
        try await Harness.run(.router, { $0.demo.enabled = true }) { harness, client in
            let registration = #"{"email":"visitor@example.org","name":"Visitor","password":"a long enough password"}"#
            let demo = #"{"workspace_type":"browser"}"#
            // What `fetch(…, {method: "POST", mode: "no-cors", body: new Blob([json])})` sends: no
            // Content-Type, so no preflight, and the browser's word on where it comes from.
            // Hummingbird's router skips empty segments: `//api/…` is the API too.
            let cases = [
                ("/api/auth/register", registration), ("/api/demo/sessions", demo), ("/api/auth/login", registration),
                ("//api/auth/register", registration), ("///api//demo/sessions", demo),
            ]
            for (path, json) in cases {
                let reply = try await client.execute(
                    uri: path, method: .post, headers: [HTTPField.Name("Sec-Fetch-Site")!: "cross-site", .origin: "https://evil.example"],
                    body: ByteBuffer(string: json))
                #expect(reply.status == .forbidden, "\(path): \(reply.status)")
                #expect(String(buffer: reply.body).contains("another site's page"), "\(path)")
            }
            #expect(try await harness.store.user(email: "visitor@example.org") == nil, "no account was made")
            #expect(try await harness.store.activeDemoCount() == 0, "no demo was started")
            let denied = try await harness.store.events(AuditQuery(action: .accessDenied))
            #expect(denied.count == 1 && denied.first?.details["reason"] == "sec_fetch_site_cross_site", "audited once a minute")
            // The same from the portal's own pages, or from no browser at all, is read.
            for headers: HTTPFields in [[HTTPField.Name("Sec-Fetch-Site")!: "same-origin"], [:]] {
                let reply = try await client.execute(uri: "/api/demo/sessions", method: .post, headers: headers, body: ByteBuffer(string: demo))
                #expect(reply.status == .created, "\(headers): \(reply.status)")
            }
        }
    }

    @Test("a throttled login costs a counter: the first refusal of a window is audited, the next ones only counted")
    func throttledLoginsAreAuditedOncePerWindow() async throws {
        // A clock of its own, so that the refusals below fall in one window however slowly they run.
        let clock = ManualClock(Date())
        try await Harness.run(clock: clock.wallClock) { harness, client in
            try await harness.account(.user, email: "judy@example.com")
            let credentials = body(["email": "judy@example.com", "password": "wrong password!"])
            for _ in 0..<10 {
                #expect(try await client.send(.post, "/api/auth/login", json: credentials).status == .unauthorized)
            }
            for _ in 0..<25 {
                let refused = try await client.send(.post, "/api/auth/login", json: credentials)
                #expect(refused.status == .tooManyRequests)
                #expect(Int(refused.headers[.retryAfter] ?? "").map { $0 > 0 } == true)
            }
            let failures = try await harness.store.events(AuditQuery(action: .loginFailed, limit: 100))
            #expect(failures.filter { $0.details["reason"] == "wrong_password" }.count == 10)
            let throttled = failures.filter { $0.details["reason"] == "throttled" }
            #expect(throttled.count == 1, "one entry for the window, not one per request")
            #expect(throttled.first?.details["retry_after"].flatMap(Int.init).map { $0 > 0 && $0 <= 900 } == true)
        }
    }

    @Test("names are limited in bytes as well as characters, and stored in normal form C")
    func namesAreLimitedInBytes() async throws {
        try await Harness.run { harness, client in
            let stacked = "a" + String(repeating: "\u{0301}", count: 400_000)  // one character, 800 KB
            let registration = body(["email": "zalgo@example.com", "password": Harness.password, "name": stacked])
            let refused = try await client.send(.post, "/api/auth/register", json: registration)
            #expect(refused.status == .unprocessableContent, "\(refused.text.prefix(200))")
            #expect(try refused.decoded(ErrorBody.self).detail.contains("bytes"))
            #expect(try await harness.store.user(email: "zalgo@example.com") == nil)

            let admin = try await harness.account(.admin).token
            let organization = try await client.send(.post, "/api/organizations", token: admin, json: body(["name": stacked]))
            #expect(organization.status == .unprocessableContent)

            let decomposed = try await client.send(
                .post, "/api/auth/register", json: body(["email": "rene@example.com", "password": Harness.password, "name": "Rene\u{0301}"]))
            #expect(decomposed.status == .created)
            #expect(try decomposed.decoded(SignedInBody.self).user.name.unicodeScalars.map(\.value) == [0x52, 0x65, 0x6E, 0xE9])
        }
    }

    @Test("a workspace URL cannot point off-site in disguise: /\\host and //host are refused, paths on this host accepted")
    func workspaceURLsStayOnThisHost() async throws {
        try await Harness.run { harness, client in
            let admin = try await harness.account(.admin).token
            let absoluteButBroken = [
                "https://example.com/a\u{0001}b", "https://example.com/a\nb", "https://example.com/a b",
                "https://example.com/a\\b", "https://exämple.com/", "https://ex_ample.com/", "https://example.com:99999/",
            ]
            for url in ["/\\evil.example/x", "//evil.example/x", "/a\\b"] + absoluteButBroken {
                let reply = try await client.send(.put, "/api/workspaces/ws-linux-desktop", token: admin, json: body(["url": url]))
                #expect(reply.status == .unprocessableContent, "\(url): \(reply.text)")
            }
            let kept = try await client.send(.get, "/api/workspaces/ws-linux-desktop", token: admin).decoded(WorkspaceBody.self)
            #expect(kept.url == "/workspaces/linux-desktop")
            let moved = try await client.send(.put, "/api/workspaces/ws-linux-desktop", token: admin, json: body(["url": "/w/linux"]))
            #expect(try moved.decoded(WorkspaceBody.self).url == "/w/linux")
            for url in ["https://desk.example.com:8443/a?b=c#d", "http://10.0.0.5/x", "https://[fd00::1]/vnc"] {
                let accepted = try await client.send(.put, "/api/workspaces/ws-linux-desktop", token: admin, json: body(["url": url]))
                #expect(accepted.status == .ok, "\(url): \(accepted.text)")
            }
        }
    }

    @Test("an audit entry is bounded whatever a caller sends: details cut at 1 KiB, e-mail at 254 bytes")
    func auditEntriesAreBounded() async throws {
        try await Harness.run { harness, _ in
            let long = String(repeating: "é", count: 5_000)  // 10,000 bytes
            try await harness.portal.auditTrail.record(
                .accessDenied, by: .anonymous(claimedEmail: String(repeating: "m", count: 5_000) + "@example.com"), from: "192.0.2.1",
                success: false, resource: ("path", String(repeating: "p", count: 5_000)), details: ["path": long])
            let entry = try #require(try await harness.store.events(AuditQuery(action: .accessDenied, limit: 1)).first)
            let path = try #require(entry.details["path"])
            #expect(path.utf8.count <= 1_024 && path.hasSuffix("…") && path.hasPrefix("éé"))
            #expect((entry.userEmail?.utf8.count ?? 0) <= 254)
            #expect((entry.resourceID?.utf8.count ?? 0) <= 256)
        }
    }

    @Test("valid JSON with a number no field can hold is a 422 naming the field, not a 400 'not valid JSON'")
    func unrepresentableNumbersNameTheirField() async throws {
        try await RecordingPeer.with { peer in
            try await Harness.run(.router, DemoSessionTests.settings(peer: peer, lifetime: 600, maxDuration: 1_200)) { harness, client in
                let admin = try await harness.account(.admin).token
                // The last is a whole Double (its fraction is below a Double's precision) that
                // the decoder, reading the digits, still takes for no Int (found by fuzzing:
                // Fuzz/Crashes/request-json-whole-double-fraction.bin).
                for number in ["1.5", "9223372036854775808", "1e20", "-1e300", "972036580822337203.520365808"] {
                    let reply = try await client.send(.put, "/api/workspaces/ws-linux-desktop", token: admin, json: #"{"cpu":\#(number)}"#)
                    #expect(reply.status == .unprocessableContent, "cpu \(number): \(reply.text)")
                    #expect(try reply.decoded(ErrorBody.self).detail.contains("cpu"), "cpu \(number)")
                }
                let demo = try await DemoSessionTests.create(client).decoded(DemoCreatedBody.self)
                let extend = try await client.send(
                    .post, "/api/demo/sessions/\(demo.demoSessionID)/extend", token: admin, json: #"{"minutes":1e20}"#)
                #expect(extend.status == .unprocessableContent, "\(extend.text)")
                #expect(try extend.decoded(ErrorBody.self).detail.contains("minutes"))
                // Found by fuzzing: an ignored unknown key's number is not the culprit, the
                // field that fails is named (Fuzz/Crashes/request-json-misnamed-field.bin).
                let misnamed = try await client.send(
                    .post, "/api/demo/sessions/\(demo.demoSessionID)/extend", token: admin, json: #"{"a":0.5,"minutes":1e300}"#)
                #expect(try misnamed.decoded(ErrorBody.self).detail == "Field 'minutes' must be a whole number within range")
                let twoBad = try await client.send(
                    .put, "/api/workspaces/ws-linux-desktop", token: admin, json: #"{"memory":2.5,"cpu":1.5}"#)
                #expect(twoBad.status == .unprocessableContent)
                #expect(try twoBad.decoded(ErrorBody.self).detail.contains("'cpu'"), "the first failing field by name: \(twoBad.text)")
                // A workspace's body takes no key it does not have: that one is named first.
                let stray = try await client.send(
                    .put, "/api/workspaces/ws-linux-desktop", token: admin, json: #"{"aaa":0.5,"memory":2.5,"cpu":1.5}"#)
                #expect(try stray.decoded(ErrorBody.self).detail == "Field 'aaa' is not one this request takes", "\(stray.text)")
                // Also found by fuzzing: a duplicate key (the decoder reads the first) and a number
                // beyond any Double (Fuzz/Crashes/request-json-duplicate-key.bin). A key named
                // twice is now refused before decoding (StrictJSON): a 400 naming it.
                for json in [#"{"minutes":1e300,"minutes":5}"#, #"{"minutes":1e3000,"minutes":0}"#] {
                    let reply = try await client.send(
                        .post, "/api/demo/sessions/\(demo.demoSessionID)/extend", token: admin, json: json)
                    #expect(reply.status == .badRequest, "\(json)")
                    #expect(
                        try reply.decoded(ErrorBody.self).detail == "Request body is not valid JSON: an object names 'minutes' twice", "\(json)")
                }
                // A number beyond any Double: Foundation's decoder (and JSONSerialization) refuse
                // the body, but it is JSON (RFC 8259 sets numbers no range), and the field is named.
                for json in [#"{"minutes":1e400}"#, #"{"minutes":-1E+400,"x":"1e400"}"#] {
                    let beyond = try await client.send(
                        .post, "/api/demo/sessions/\(demo.demoSessionID)/extend", token: admin, json: json)
                    #expect(beyond.status == .unprocessableContent, "\(json): \(beyond.text)")
                    #expect(try beyond.decoded(ErrorBody.self).detail == "Field 'minutes' must be a whole number within range")
                }
                // Nested as deep as it may be: the field's whole path (found by fuzzing,
                // Fuzz/Corpus/request-json/policy-body-nested-fraction: a plain 400 before).
                // Two bad: the first failing field by its path's name.
                let nestedCases = [("1.5", "60", "requests"), ("1e400", "60", "requests"), ("9223372036854775808", "0.5", "per_seconds")]
                for (requests, perSeconds, field) in nestedCases {
                    let json = #"{"name":"Limit","kind":"rate_limit","settings":{"per_seconds":\#(perSeconds),"requests":\#(requests)}}"#
                    let nested = try await client.send(.post, "/api/policies", token: admin, json: json)
                    #expect(nested.status == .unprocessableContent, "\(json): \(nested.text)")
                    #expect(try nested.decoded(ErrorBody.self).detail == "Field 'settings.\(field)' must be a whole number within range", "\(json)")
                }
                // Suspects among ignored keys, nested too, up to the limit: the culprit is still
                // named (found by halving: a decode a step, not one per suspect; a review found a
                // body of nine such numbers beside the culprit answered with the plain 400).
                let ignored = Array(repeating: "0.5", count: Request.namedNumberLimit - 2).joined(separator: ",")
                let crowded = try await client.send(
                    .post, "/api/demo/sessions/\(demo.demoSessionID)/extend", token: admin,
                    json: #"{"k":0.5,"meta":[\#(ignored)],"minutes":1.5}"#)
                #expect(crowded.status == .unprocessableContent, "\(crowded.text)")
                #expect(try crowded.decoded(ErrorBody.self).detail == "Field 'minutes' must be a whole number within range")
                // Past the limit, the plain 400, however many there are (a field's path is
                // written out for the first 64 only).
                let many = (0..<1_000).map { #""k\#($0)":0.5,"# }.joined()
                let flood = try await client.send(
                    .post, "/api/demo/sessions/\(demo.demoSessionID)/extend", token: admin, json: "{\(many)\"minutes\":1.5}")
                #expect(flood.status == .badRequest, "\(flood.text)")
                // Broken JSON stays a 400, whatever number sits beside the break
                // (Fuzz/Crashes/request-json-misnamed-field-utf8.bin: a name that is not UTF-8).
                let broken = try await client.send(.put, "/api/workspaces/ws-linux-desktop", token: admin, json: #"{"cpu":1.5"#)
                #expect(broken.status == .badRequest)
                let notUTF8 = Array(#"{"name":"Ali"#.utf8) + [0xBA] + Array(#"e","x":1.5}"#.utf8)
                let garbled = try await client.sendBytes(.put, "/api/workspaces/ws-linux-desktop", token: admin, bytes: notUTF8)
                #expect(garbled.status == .badRequest, "\(garbled.text)")
            }
        }
    }

    @Test("a body that is not strict JSON changes nothing: a key named twice (escaped or not), a trailing comma, a raw tab, UTF-16")
    func bodiesAreStrictJSON() async throws {
        try await Harness.run { harness, client in
            let admin = try await harness.account(.admin).token
            let before = try await client.send(.get, "/api/workspaces/ws-linux-desktop", token: admin).decoded(WorkspaceBody.self)
            // A filter in front that reads the last of two keys would see "Renamed"; NeoSC read
            // the first and renamed nothing. Now neither: the body is refused whole.
            let bodies = [
                (#"{"name":"Kept","name":"Renamed"}"#, "Request body is not valid JSON: an object names 'name' twice"),
                (#"{"name":"Kept","\u006eame":"Renamed"}"#, "Request body is not valid JSON: an object names 'name' twice"),
                (#"{"name":"Renamed",}"#, "Request body is not valid JSON: a comma with no value after it (at byte 19)"),
                ("{\"name\":\"Re\tnamed\"}", "Request body is not valid JSON (at byte 12)"),
            ]
            for (json, detail) in bodies {
                let reply = try await client.send(.put, "/api/workspaces/ws-linux-desktop", token: admin, json: json)
                #expect(reply.status == .badRequest, "\(json): \(reply.text)")
                #expect(try reply.decoded(ErrorBody.self).detail == detail, "\(json)")
            }
            // Foundation's decoder also reads UTF-16 and UTF-32; a body is UTF-8 (RFC 8259 §8.1).
            for encoding: String.Encoding in [.utf16LittleEndian, .utf16, .utf32BigEndian] {
                let bytes = try #require(#"{"name":"Renamed"}"#.data(using: encoding))
                let reply = try await client.sendBytes(.put, "/api/workspaces/ws-linux-desktop", token: admin, bytes: Array(bytes))
                #expect(reply.status == .badRequest, "\(encoding): \(reply.text)")
            }
            let after = try await client.send(.get, "/api/workspaces/ws-linux-desktop", token: admin).decoded(WorkspaceBody.self)
            #expect(after.name == before.name)
            #expect(try await harness.store.events(AuditQuery(action: .updateWorkspace, limit: 10)).isEmpty)
            // Refused the same way where a role is chosen: no account made.
            let registration = try await client.send(
                .post, "/api/auth/register", json: #"{"email":"twice@example.com","password":"a long passphrase 1","email":"other@example.com"}"#)
            #expect(registration.status == .badRequest, "\(registration.text)")
            #expect(try await harness.store.user(email: "twice@example.com") == nil)
        }
    }

    @Test("a request body cut short of its Content-Length is a 400 {detail}, not a 500")
    func truncatedBodyIsABadRequest() async throws {
        try await Harness.run(.live) { _, client in
            let port = try #require(client.port)
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                            wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                    }
                }
            let response = try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(
                    ByteBuffer(
                        string: "POST /api/auth/login HTTP/1.1\r\nHost: neosc\r\nContent-Type: application/json\r\n"
                            + "Content-Length: 100\r\n\r\n{\"e\""))
                outbound.finish()  // half-close: 4 of the 100 bytes, then nothing more
                var text = ""
                for try await chunk in inbound { text += String(buffer: chunk) }
                return text
            }
            #expect(response.hasPrefix("HTTP/1.1 400"), "\(response.prefix(200))")
            #expect(response.contains(#"{"detail":"#))
        }
    }

    @Test(
        "a body declared larger than 1 MiB is a 413 {detail} at once, before any of it is sent, however large (2^63 and up included)",
        arguments: ["\((1 << 20) + 1)", "9223372036854775808", "18446744073709551615", "000000000000000000000001048577"])
    func oversizeDeclaredBodyIsRefusedAtOnce(declared: String) async throws {
        try await Harness.run(.live, { $0.connectionIdleTimeout = 300 }) { _, client in
            let port = try #require(client.port)
            // Only the head, then a request that must not be read: the answer comes at once and
            // the connection closes (`answer(to:)` waits for the close, 30 s at most), with no
            // `100 Continue` inviting the body.
            for expect in ["", "Expect: 100-continue\r\n"] {
                let started = ContinuousClock.now
                let text = try await Self.answer(
                    to: "POST /api/auth/login HTTP/1.1\r\nHost: neosc\r\nContent-Type: application/json\r\n\(expect)"
                        + "Content-Length: \(declared)\r\n\r\nGET /health HTTP/1.1\r\nHost: neosc\r\n\r\n", port: port)
                #expect(ContinuousClock.now - started < .seconds(20), "answered and closed at once, not at a timeout")
                #expect(text.hasPrefix("HTTP/1.1 413 "), "\(expect): \(text.prefix(300))")
                #expect(text.lowercased().contains("connection: close"))
                #expect(text.hasSuffix(#"{"detail":"Request body is larger than 1 MiB"}"#), "\(text)")
                #expect(text.components(separatedBy: "HTTP/1.1 ").count == 2, "one answer, nothing read after it: \(text)")
            }
        }
    }

    @Test(
        "a body declared too large is drained for 5 s after the 413, so that an uploading browser reads it; not after a CONNECT or an upgrade, whose parser has stopped",
        arguments: [
            ("POST /api/auth/login HTTP/1.1\r\nHost: neosc\r\nContent-Type: application/json\r\n", true),
            ("CONNECT neosc.example:443 HTTP/1.1\r\nHost: neosc.example:443\r\n", false),
            ("GET /health HTTP/1.1\r\nHost: neosc\r\nConnection: upgrade\r\nUpgrade: h2c\r\n", false),
        ])
    func aStoppedParserIsNotFedAfterARefusal(head: String, drained: Bool) async throws {
        try await Harness.run(.live) { _, client in
            // NIO's parser stops after such a head: what follows is never parsed, so a drain meant
            // for a body would pile it up in the decoder. The server must stop taking the client's
            // bytes once it has answered and closed (its close of an unread socket then fails the
            // client's writes), not read them for 5 s.
            let (answer, sentFor) = try await Self.upload(head + "Content-Length: 2000000\r\n\r\n", chunked: false, port: try #require(client.port))
            #expect(answer.hasPrefix("HTTP/1.1 413 "), "\(answer.prefix(200))")
            if drained {
                #expect(sentFor > .seconds(4) && sentFor < .seconds(9), "read and dropped for 5 s, then closed: \(sentFor)")
            } else {
                #expect(sentFor < .seconds(4), "the server stopped taking bytes at its close (0.5 s), not after a 5 s drain: \(sentFor)")
            }
        }
    }

    @Test("a chunked body sent on past its route's 413 is drained for 256 KiB and then 5 s at most, then its connection closed")
    func aBodyGoingOnAfterItsAnswerIsCut() async throws {
        try await Harness.run(.live) { _, client in
            // Hummingbird reads a body to its end before the next request, so a client would keep
            // the server reading (and the connection) for as long as it sends.
            let (answer, sentFor) = try await Self.upload(
                "POST /api/auth/login HTTP/1.1\r\nHost: neosc\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
                chunked: true, sendingFor: .seconds(30), port: try #require(client.port))
            #expect(answer.hasPrefix("HTTP/1.1 413 "), "\(answer.prefix(200))")
            #expect(answer.hasSuffix(#"{"detail":"Request body is larger than 1 MiB"}"#), "\(answer)")
            // 256 KiB and 5 s take about 6 s on a quiet machine, 10 s under the whole suite.
            #expect(sentFor < .seconds(20), "cut, not read for as long as the client sends (30 s): \(sentFor)")
        }
    }

    @Test(
        "a body still arriving after its request is answered is read on, to keep the connection, when short (to 256 KiB); a longer one is cut",
        arguments: [(100 << 10, true), (400 << 10, false)])
    func aShortRemainderKeepsItsConnection(remainder: Int, kept: Bool) async throws {
        try await Harness.run(.live) { _, client in
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: try #require(client.port)) { channel in
                    channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
                }
            let text = try await channel.executeThenClose { inbound, outbound in
                // No credential: the 401 comes before any of the body is read. Only then is the
                // body sent, and a request after it on the same connection.
                try await outbound.write(
                    ByteBuffer(
                        string: "POST /api/workspaces HTTP/1.1\r\nHost: neosc\r\nContent-Type: application/json\r\n"
                            + "Content-Length: \(remainder)\r\n\r\n"))
                return try await Self.within30Seconds("answered, or closed, within 30 s") {
                    var text = ""
                    var sent = false
                    do {
                        for try await bytes in inbound {
                            text += String(buffer: bytes)
                            if !sent, text.contains(#"Bearer token"}"#) || text.hasSuffix("}") {
                                sent = true
                                try await outbound.write(ByteBuffer(repeating: UInt8(ascii: " "), count: remainder))
                                try await outbound.write(ByteBuffer(string: "GET /health HTTP/1.1\r\nHost: neosc\r\n\r\n"))
                            }
                            if text.components(separatedBy: "HTTP/1.1 ").count == 3 { break }
                        }
                    } catch {}  // a reset once cut ends it too
                    return text
                }
            }
            #expect(text.hasPrefix("HTTP/1.1 401 "), "\(text.prefix(200))")
            if kept {
                #expect(text.contains("HTTP/1.1 200 "), "the next request is answered on the same connection: \(text)")
            } else {
                #expect(!text.contains("HTTP/1.1 200 "), "cut after 256 KiB more: \(text)")
            }
        }
    }

    /// Sends `head`, then a body of 16 KiB pieces (64 KiB chunks) for up to `limit` or until the
    /// server stops taking them; what the server answered meanwhile, and for how long the client
    /// could send. A chunked body starts with one chunk just over 1 MiB, sent at once: under the
    /// whole suite a loop of pieces once sent 590 KB in 10 s, and the route never refused it.
    private static func upload(
        _ head: String, chunked: Bool, sendingFor limit: Duration = .seconds(10), port: Int
    ) async throws -> (answer: String, sentFor: Duration) {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.allowRemoteHalfClosure, value: true)  // the server's half-close does not end the sending
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var start = ByteBuffer(string: head)
            if chunked {
                let size = (1 << 20) + (16 << 10)
                start.writeString(String(size, radix: 16) + "\r\n")
                start.writeRepeatingByte(UInt8(ascii: "x"), count: size)
                start.writeString("\r\n")
            }
            try await outbound.write(start)
            async let text: String = {
                var text = ""
                do {
                    for try await bytes in inbound { text += String(buffer: bytes) }
                } catch {}  // a reset after the answer ends the connection too
                return text
            }()
            let started = ContinuousClock.now
            var piece = ByteBuffer(string: chunked ? "10000\r\n" : "")
            piece.writeRepeatingByte(UInt8(ascii: "x"), count: chunked ? 64 << 10 : 16 << 10)
            if chunked { piece.writeString("\r\n") }
            while ContinuousClock.now - started < limit {
                guard (try? await outbound.write(piece)) != nil else { break }
                try await Task.sleep(for: .milliseconds(5))
            }
            let sentFor = ContinuousClock.now - started
            return (await text, sentFor)
        }
    }

    /// A server with streams (on loopback) or without: the two kinds of connection pipeline.
    private static func streams(_ on: Bool) -> (inout Configuration) -> Void {
        { if on { $0.streamUpstreams = StreamUpstreamAllowlist(ranges: [AddressRange("127.0.0.0/8")!]) } }
    }

    /// Everything `port` answers to `bytes` until it closes the connection (or 30 s pass: a loaded
    /// machine running the whole suite can take seconds over a `/health`, which writes).
    private static func answer(to bytes: String, port: Int) async throws -> String {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: bytes))
            return try await within30Seconds("the server closes the connection after answering") {
                var text = ""
                for try await chunk in inbound { text += String(buffer: chunk) }
                return text
            }
        }
    }

    /// What `read` gives, failing if it has not finished within 30 s.
    private static func within30Seconds(_ what: Comment, _ read: @escaping @Sendable () async throws -> String) async throws -> String {
        try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask { try await read() }
            group.addTask {
                try await Task.sleep(for: .seconds(30))
                return nil
            }
            let first = try await group.next()!
            group.cancelAll()
            return try #require(first, what)
        }
    }

    @Test(
        "a request the HTTP parser refuses is a 4xx {detail} and a closed connection, after the answers owed to earlier requests",
        arguments: [false, true])
    func unparsableRequestIsAnsweredWithADetail(streaming: Bool) async throws {
        try await Harness.run(.live, Self.streams(streaming)) { _, client in
            let port = try #require(client.port)
            let health = "GET /health HTTP/1.1\r\nHost: neosc\r\n\r\n"
            let cases: [(request: String, status: String, detail: String)] = [
                ("BREW /health HTTP/1.1\r\nHost: neosc\r\n\r\n", "400", "method"),
                ("GET /he\u{0}alth HTTP/1.1\r\nHost: neosc\r\n\r\n", "400", "target"),
                ("GET /health HTTP/1.1\r\nHost: neosc\r\nBad Header: x\r\n\r\n", "400", "header"),
                ("GET /health HTTP/1.1\r\nHost: neosc\r\nX-Big: \(String(repeating: "a", count: 90_000))\r\n\r\n", "431", "headers"),
                ("\u{16}\u{3}\u{1}\u{2}\u{0}\u{1}\u{0}\u{1}\u{fc}\u{3}\u{3}", "400", "HTTP"),  // a TLS hello on the plain port
            ]
            for (request, status, detail) in cases {
                let text = try await Self.answer(to: request, port: port)
                #expect(text.hasPrefix("HTTP/1.1 \(status) "), "\(request.prefix(40).debugDescription): \(text.prefix(200))")
                #expect(text.lowercased().contains("content-type: application/json"))
                #expect(text.lowercased().contains("connection: close"))
                for field in [
                    "cache-control: no-store", "x-content-type-options: nosniff", "x-frame-options: deny",
                    "referrer-policy: no-referrer", "strict-transport-security: max-age=", "content-security-policy: frame-ancestors 'none'",
                ] {
                    #expect(text.lowercased().contains(field), "every answer's fields, a refusal's too: \(field)")
                }
                let body = try #require(text.components(separatedBy: "\r\n\r\n").last)
                let decoded = try JSONDecoder().decode(ErrorBody.self, from: Data(body.utf8))
                #expect(decoded.detail.contains(detail), "\(decoded.detail)")
            }
            // Pipelined behind two good requests, the refusal is the third answer, the last.
            let text = try await Self.answer(to: health + health + "BREW / HTTP/1.1\r\n\r\n", port: port)
            let statuses = text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) }
            #expect(statuses == ["200", "200", "400"], "\(text.prefix(600))")
            #expect(text.hasSuffix(#"{"detail":"The request's method is not an HTTP method"}"#))
            // A body that cannot be read: the request reading it is refused with a detail; one
            // answered before reading it keeps its answer, and nothing follows either.
            let chunked = "Host: neosc\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
            let refused = try await Self.answer(to: "POST /api/auth/login HTTP/1.1\r\n" + chunked, port: port)
            #expect(refused.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) } == ["400"], "\(refused)")
            #expect(refused.hasSuffix(#"{"detail":"The request could not be read (its body ended early or is malformed)"}"#))
            let unread = try await Self.answer(to: "GET /health HTTP/1.1\r\n" + chunked, port: port)
            #expect(unread.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) } == ["200"], "\(unread)")
            // The server goes on serving.
            #expect(try await client.execute(uri: "/health", method: .get).status == .ok)
        }
    }

    /// Only the time the server waits on the client counts against the read deadlines: a
    /// pipelined request sent whole, whose body the server does not read while it answers the
    /// requests ahead of it (back-pressure), is not cut (a probe saw the connection reset at the
    /// body timeout, and answers lost).
    @Test("a pipelined body sent whole is not cut while the server holds its reads for the requests ahead")
    func aPipelinedBodyWaitsForTheServer() async throws {
        var hashing = Configuration()
        hashing.bcryptCost = 13
        let slow = Wiring.makePasswordHasher(hashing)
        defer { Task { try? await slow.shutdown() } }
        try await Harness.run(
            .live, passwords: slow,
            {
                $0.bodyTimeout = 1
                $0.headerTimeout = 1
            }
        ) { harness, client in
            let port = try #require(client.port)
            func post(_ body: String, closing: Bool = false) -> String {
                "POST /api/auth/login HTTP/1.1\r\nHost: neosc\r\nContent-Type: application/json\r\n"
                    + (closing ? "Connection: close\r\n" : "") + "Content-Length: \(body.utf8.count)\r\n\r\n" + body
            }
            // Each refused at a bcrypt of cost 13 (an unknown address is checked against a decoy hash).
            let login = #"{"email":"nobody@example.com","password":"not the password"}"#
            let large = #"{"email":"nobody@example.com","password":""# + String(repeating: "a", count: 400_000) + #""}"#
            let started = ContinuousClock.now
            let text = try await Self.answer(to: post(login) + post(login) + post(login) + post(large, closing: true), port: port)
            let statuses = text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) }
            #expect(statuses.count == 4, "every request answered: \(statuses), after \(ContinuousClock.now - started)")
            #expect(statuses.prefix(3).allSatisfy { $0 == "401" }, "\(statuses)")
        }
    }

    /// RFC 9112 §6.3: a request whose Transfer-Encoding does not end with chunked has a body of no
    /// length anyone can tell; it is refused before any route acts on it (a probe launched a
    /// workspace and logged out with `Transfer-Encoding: gzip`), and its connection closed.
    @Test(
        "a Transfer-Encoding that does not end with chunked is a 400 {detail} before any route runs; the connection closes", arguments: [false, true])
    func framingNoOneCanReadIsRefused(streaming: Bool) async throws {
        try await Harness.run(.live, Self.streams(streaming)) { harness, client in
            let port = try #require(client.port)
            let (_, token) = try await harness.account(.neosc)
            // Some NIO's parser refuses itself, as a request that is not HTTP/1.1 (`parserRefuses`).
            // An empty one, or one of commas, names none; a tab after chunked is not one NIO's
            // parser trims (a probe of the first version of this refusal found these).
            for coding in [
                "gzip", "identity", "xchunked", "gzip,", "", ",", " , ", "chunked\t", "chunked;ext", "\"chunked\"",
                "chunked, gzip", "chunked\r\nTransfer-Encoding: gzip", "\r\nContent-Length: 0",
            ] {
                let parserRefuses: Set = ["chunked;ext", "\"chunked\"", "chunked, gzip", "chunked\r\nTransfer-Encoding: gzip"]
                let launch =
                    "POST /api/workspaces/ws-linux-desktop/launch HTTP/1.1\r\nHost: neosc\r\nAuthorization: Bearer \(token)\r\n"
                    + "Transfer-Encoding: \(coding)\r\n\r\n"
                let text = try await Self.answer(to: launch + "GET /health HTTP/1.1\r\nHost: neosc\r\n\r\n", port: port)
                let statuses = text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) }
                #expect(statuses == ["400"], "\(coding): \(text.prefix(400))")
                #expect(text.lowercased().contains("connection: close"), "\(coding)")
                #expect(
                    text.hasSuffix(#"{"detail":"The request's Transfer-Encoding must end with chunked (RFC 9112 §6.3)"}"#)
                        || (parserRefuses.contains(coding) && text.hasSuffix(#"{"detail":"The request is not valid HTTP/1.1"}"#)),
                    "\(coding): \(text.suffix(120))")
            }
            #expect(try await harness.store.events(AuditQuery(action: .launchWorkspace)).isEmpty, "nothing was launched")
            // A chunked body is read as before.
            let chunked =
                "POST /api/workspaces/ws-linux-desktop/launch HTTP/1.1\r\nHost: neosc\r\nAuthorization: Bearer \(token)\r\n"
                + "Connection: close\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"
            let answered = try await Self.answer(to: chunked, port: port)
            #expect(answered.hasPrefix("HTTP/1.1 201"), "\(answered.prefix(300))")
        }
    }

    @Test(
        "a request without exactly one valid Host (RFC 9112 §3.2) is a 400 {detail} and a closed connection; what follows it is not read",
        arguments: [false, true])
    func hostIsNamedOnceAndValid(streaming: Bool) async throws {
        try await Harness.run(.live, Self.streams(streaming)) { harness, client in
            let port = try #require(client.port)
            func statuses(_ text: String) -> [Substring] {
                text.components(separatedBy: "HTTP/1.").dropFirst().map { $0.dropFirst(2).prefix(3) }
            }
            let refused: [(request: String, detail: String)] = [
                ("GET /health HTTP/1.1\r\n\r\n", "must name its host"),
                ("GET /health HTTP/1.1\r\nHost: neosc\r\nHost: other\r\n\r\n", "more than once"),
                ("GET /health HTTP/1.0\r\nHost: neosc\r\nHost: neosc\r\n\r\n", "more than once"),
                ("GET /health HTTP/1.1\r\nHost: neo sc\r\n\r\n", "not a valid host"),
                ("GET /health HTTP/1.1\r\nHost: user@neosc\r\n\r\n", "not a valid host"),
                ("GET /health HTTP/1.1\r\nHost: neosc:80a\r\n\r\n", "not a valid host"),
                ("GET /health HTTP/1.1\r\nHost: [::1\r\n\r\n", "not a valid host"),
                ("GET /health HTTP/1.1\r\nHost: %zz\r\n\r\n", "not a valid host"),
                ("GET /health HTTP/1.1\r\nHost: neosc,evil.example\r\n\r\n", "not a valid host"),
                // An http URI has a host (RFC 9110 §4.2.1).
                ("GET /health HTTP/1.1\r\nHost: \r\n\r\n", "not a valid host"),
                ("GET /health HTTP/1.1\r\nHost: :80\r\n\r\n", "not a valid host"),
                // A target in absolute form names the host itself, held to the same rule.
                ("GET http://user@neosc/health HTTP/1.1\r\nHost: neosc\r\n\r\n", "not a valid host"),
                ("GET http://:80/health HTTP/1.1\r\nHost: neosc\r\n\r\n", "not a valid host"),
                // A URL of another scheme: its host would go unchecked, and its path is routed.
                ("GET ftp://user@bad%zz:x/health HTTP/1.1\r\nHost: neosc\r\n\r\n", "http or https URL"),
                ("GET ws://elsewhere.example/health HTTP/1.1\r\nHost: neosc\r\n\r\n", "http or https URL"),
            ]
            for (request, detail) in refused {
                let text = try await Self.answer(to: request, port: port)
                #expect(statuses(text) == ["400"], "\(request.debugDescription): \(text.prefix(300))")
                #expect(text.lowercased().contains("connection: close"))
                let body = try #require(text.components(separatedBy: "\r\n\r\n").last)
                #expect(try JSONDecoder().decode(ErrorBody.self, from: Data(body.utf8)).detail.contains(detail), "\(body)")
            }
            // Whitespace around the value is not part of it (RFC 9112 §5).
            for host in ["neosc", "127.0.0.1:\(port)", "[::1]:8001", "neo-sc.example.com.", "xn--nsc-5ka.test", "neosc \t"] {
                let text = try await Self.answer(to: "GET /health HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n", port: port)
                #expect(statuses(text) == ["200"], "Host: \(host.debugDescription): \(text.prefix(300))")
            }
            let absolute = try await Self.answer(
                to: "GET HTTP://neosc.example:8001/health HTTP/1.1\r\nHost: neosc\r\nConnection: close\r\n\r\n", port: port)
            #expect(statuses(absolute) == ["200"], "\(absolute.prefix(300))")
            // HTTP/1.0 may leave it out.
            #expect(statuses(try await Self.answer(to: "GET /health HTTP/1.0\r\n\r\n", port: port)) == ["200"])

            // Behind an answered request the refusal comes last; the refused request's body and
            // the requests after it are not read (no account is registered).
            let health = "GET /health HTTP/1.1\r\nHost: neosc\r\n\r\n"
            let body = #"{"email":"hostless@example.com","password":"correct horse battery","name":"H"}"#
            let register =
                "POST /api/auth/register HTTP/1.1\r\nHost: neosc\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
                + body
            let hostless = register.replacingOccurrences(of: "Host: neosc\r\n", with: "")
            let text = try await Self.answer(to: health + hostless + register + health, port: port)
            #expect(statuses(text) == ["200", "400"], "\(text.prefix(800))")
            #expect(try await harness.store.user(email: "hostless@example.com") == nil)
            #expect(try await client.execute(uri: "/health", method: .get).status == .ok, "the server goes on serving")
        }
    }

    @Test(
        "a request that does not keep its connection (HTTP/1.0, Connection: Close, an upgrade nothing takes, CONNECT) is answered with Connection: close, and nothing after it",
        arguments: [false, true])
    func requestsThatEndTheirConnection(streaming: Bool) async throws {
        try await Harness.run(.live, Self.streams(streaming)) { harness, client in
            let port = try #require(client.port)
            let health = "GET /health HTTP/1.1\r\nHost: neosc\r\n\r\n"
            func statuses(_ text: String) -> [Substring] {
                text.components(separatedBy: "\r\n\r\n").dropLast().compactMap { $0.split(separator: " ").dropFirst().first }
            }
            var cases: [(name: String, request: String, statuses: [Substring])] = [
                ("HTTP/1.0", "GET /health HTTP/1.0\r\n\r\n" + health, ["200"]),
                ("HTTP/1.0 with keep-alive", "GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + health, ["200"]),
                ("Connection: Close", "GET /health HTTP/1.1\r\nHost: neosc\r\nConnection: Close, TE\r\n\r\n" + health, ["200"]),
                // NIO's parser reads it as close; its keep-alive check did not.
                ("Connection: close<TAB>", "GET /health HTTP/1.1\r\nHost: neosc\r\nConnection: close\t\r\n\r\n" + health, ["200"]),
                (
                    "an upgrade after the first request",
                    health + "GET /health HTTP/1.1\r\nHost: neosc\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n" + health,
                    // With streams, Hummingbird sends such a client to a connection of its own (307).
                    streaming ? ["200", "307"] : ["200", "200"]
                ),
                ("CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n" + health, ["404"]),
                (
                    "Proxy-Connection: upgrade",
                    "GET /health HTTP/1.1\r\nHost: neosc\r\nProxy-Connection: upgrade\r\nUpgrade: h2c\r\n\r\n" + health, ["200"]
                ),
            ]
            if streaming {
                // An upgrade asked without `Connection: upgrade` on a later request: Hummingbird's
                // 307 all the same, and the connection closed.
                cases.append(
                    (
                        "Upgrade: websocket alone, after the first request",
                        health + "GET /health HTTP/1.1\r\nHost: neosc\r\nUpgrade: websocket\r\n\r\n", ["200", "307"]
                    ))
            }
            for (name, request, expected) in cases {
                // `answer(to:)` returns only once the server closes the connection.
                let text = try await Self.answer(to: request, port: port)
                #expect(statuses(text) == expected, "\(name): \(text)")
                let lastHead = text.components(separatedBy: "\r\n\r\n").last { $0.contains("HTTP/1.") } ?? ""
                #expect(lastHead.contains("\r\nConnection: close"), "\(name): \(lastHead)")
                // Every answer's fields, Hummingbird's own 307 (the ticket in its Location) too.
                for field in ["cache-control: no-store", "x-content-type-options: nosniff", "x-frame-options: deny"] {
                    #expect(lastHead.lowercased().contains(field), "\(name): \(field)")
                }
            }
            if !streaming {
                // Without streams nothing upgrades, the connection's first request included.
                let text = try await Self.answer(
                    to: "GET /health HTTP/1.1\r\nHost: neosc\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n" + health, port: port)
                #expect(statuses(text) == ["200"], "\(text)")
            }
            // An HTTP/1.0 answer of unknown length is not chunked (HTTP/1.0 has no chunks): it ends
            // with the connection.
            let token = try await harness.account(.admin).token
            let export = try await Self.answer(
                to: "GET /api/audit-logs/export?format=jsonl HTTP/1.0\r\nAuthorization: Bearer \(token)\r\n\r\n", port: port)
            let parts = export.components(separatedBy: "\r\n\r\n")
            let head = parts[0]
            let exported = parts.dropFirst().joined(separator: "\r\n\r\n")
            #expect(head.hasPrefix("HTTP/1.0 200 ") && !head.lowercased().contains("transfer-encoding"), "\(head)")
            #expect(exported.split(separator: "\n").allSatisfy { $0.hasPrefix("{") }, "\(exported.prefix(300))")
            // A request that keeps its connection keeps it.
            let kept = try await LoopbackSocket(port: port)
            kept.send("GET /health HTTP/1.1\r\nHost: neosc\r\nConnection: keep-alive\r\n\r\n" + health)
            #expect(await kept.responseStatus(within: .seconds(30)) == 200)
            #expect(await kept.responseStatus(within: .seconds(30)) == 200)
        }
    }

    @Test(
        "Expect: 100-continue is answered 100 Continue before the body is sent, after the answers owed to earlier requests", arguments: [false, true])
    func continueIsSentWhenExpected(streaming: Bool) async throws {
        try await Harness.run(.live, Self.streams(streaming)) { harness, client in
            let port = try #require(client.port)
            try await harness.account(.user, email: "carol@example.com")
            let login = #"{"email":"carol@example.com","password":"wrong password!"}"#
            let expecting =
                "POST /api/auth/login HTTP/1.1\r\nHost: neosc\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(login.utf8.count)\r\nExpect: 100-continue\r\n\r\n"
            let socket = try await LoopbackSocket(port: port)
            // Behind a pipelined request: its answer first, then the 100, and nothing more until the body.
            socket.send("GET /health HTTP/1.1\r\nHost: neosc\r\n\r\n" + expecting)
            let interim = await socket.read(within: .seconds(30)) { String(decoding: $0, as: UTF8.self).contains("100 Continue\r\n\r\n") }
            let text = String(decoding: interim, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 200 ") && text.hasSuffix("HTTP/1.1 100 Continue\r\n\r\n"), "\(text)")
            socket.send(login)
            let final = await socket.read(within: .seconds(30)) { String(decoding: $0, as: UTF8.self).hasSuffix("}") }
            #expect(String(decoding: final, as: UTF8.self).contains("HTTP/1.1 401 "), "\(String(decoding: final, as: UTF8.self))")
            // Asked in HTTP/1.0, or with no body to send, the expectation is ignored: the final answer comes first.
            for request in [
                "POST /api/auth/login HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n{}",
                "POST /api/auth/login HTTP/1.1\r\nHost: neosc\r\nContent-Length: 0\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
            ] {
                let answer = try await Self.answer(to: request, port: port)
                #expect(!answer.contains("100 Continue") && answer.contains(" 4"), "\(answer)")
            }
            // None after a request that ends the connection (never answered), nor to a request whose
            // body came without waiting, late, in front of a later request's answer.
            let health = "GET /health HTTP/1.1\r\nHost: neosc\r\n\r\n"
            for (request, last) in [
                ("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + expecting, "HTTP/1.0 200 "),
                (health + expecting + login + "GET /health HTTP/1.0\r\n\r\n", "HTTP/1.0 200 "),
                (health + expecting + login + health + health + "GET /health HTTP/1.1\r\nHost: neosc\r\nConnection: close\r\n\r\n", "HTTP/1.1 200 "),
            ] {
                let answer = try await Self.answer(to: request, port: port)
                #expect(!answer.contains("100 Continue"), "\(answer)")
                #expect(answer.components(separatedBy: "\r\n\r\n").last { $0.contains("HTTP/1.") }?.contains(last) == true, "\(answer)")
            }
        }
    }

    @Test(
        "a WebSocket upgrade without Connection: upgrade is refused, whatever follows it; an upgrade taken, then a frame, does not bring the server down"
    )
    func upgradeWithoutConnectionHeader() async throws {
        try await Harness.run(.live, { $0.streamUpstreams = StreamUpstreamAllowlist(ranges: [AddressRange("127.0.0.0/8")!]) }) {
            _, client in
            let port = try #require(client.port)
            let upgrade =
                "GET /streams/nobody?ticket=bogus HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            // NIO took it, and decoded the request pipelined behind it, which after the switch reached
            // the WebSocket's frame decoder and trapped: the process down.
            // So for a Connection header NIO's parser does not read as asking for it (a tab after `upgrade`).
            let requests = [
                upgrade + "\r\n" + "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                upgrade + "\r\n" + "\u{81}\u{80}\u{1}\u{2}\u{3}\u{4}",
                upgrade + "Connection: upgrade\t\r\n\r\n" + "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                upgrade + "Connection: keep-alive, upgrade\t, x\r\n\r\n" + "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            ]
            for request in requests {
                let refused = try await Self.answer(to: request, port: port)
                #expect(
                    refused.hasPrefix("HTTP/1.1 400 ") && refused.hasSuffix(#"{"detail":"A WebSocket upgrade needs Connection: Upgrade"}"#),
                    "\(refused)")
                #expect(try await client.execute(uri: "/health", method: .get).status == .ok, "the server still serves")
            }
            // RFC 6455 asks for HTTP/1.1 too.
            let old = try await Self.answer(
                to: upgrade.replacingOccurrences(of: "HTTP/1.1", with: "HTTP/1.0") + "Connection: Upgrade\r\n\r\n", port: port)
            #expect(old.hasPrefix("HTTP/1.1 400 ") && old.hasSuffix(#"{"detail":"A WebSocket upgrade needs HTTP/1.1"}"#), "\(old)")
            let socket = try await LoopbackSocket(port: port)
            socket.send(upgrade + "Connection: keep-alive,\tUpgrade \r\n\r\n")
            let switched = await socket.read(within: .seconds(30)) { String(decoding: $0, as: UTF8.self).contains("\r\n\r\n") }
            #expect(String(decoding: switched, as: UTF8.self).hasPrefix("HTTP/1.1 101"), "upgraded, the ticket refused by a close frame")
            // A masked text frame, "hi": bytes that are not HTTP reach whatever is left in the pipeline.
            socket.send(bytes: [0x81, 0x82, 1, 2, 3, 4, 0x69 ^ 1, 0x69 ^ 2])
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await client.execute(uri: "/health", method: .get).status == .ok, "the server still serves")
        }
    }

    @Test(
        "on a server with streams, an Upgrade to anything but websocket is ignored; a declined or malformed WebSocket upgrade, or one announcing a body, is a 4xx {detail}"
    )
    func upgradesScreened() async throws {
        try await Harness.run(.live, { $0.streamUpstreams = StreamUpstreamAllowlist(ranges: [AddressRange("127.0.0.0/8")!]) }) {
            _, client in
            let port = try #require(client.port)
            // What `curl --http2` sends over plain HTTP: answered as HTTP/1.1, and the connection
            // closed (NIO's decoder reads no further request after `Connection: upgrade`).
            let h2c = try await Self.answer(
                to: "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                    + "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
                port: port)
            #expect(h2c.hasPrefix("HTTP/1.1 200") && h2c.hasSuffix(#"{"status":"healthy"}"#), "\(h2c)")
            // Without `Connection: upgrade`, the connection goes on serving.
            let plain = try await LoopbackSocket(port: port)
            plain.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: h2c\r\n\r\n" + LoopbackSocket.request("/health"))
            #expect(await plain.responseStatus(within: .seconds(30)) == 200)
            #expect(await plain.responseStatus(within: .seconds(30)) == 200)
            // An upgrade the gateway declines: a 400 with a detail, as any refusal.
            for target in ["/health", "/streams/nobody", "/streams/not%20an%20id?ticket=x"] {
                let declined = try await Self.answer(
                    to: "GET \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                    port: port)
                #expect(declined.hasPrefix("HTTP/1.1 400"), "\(target): \(declined)")
                #expect(declined.hasSuffix(#"{"detail":"Only /streams/{session_id}?ticket=… is upgraded to a WebSocket"}"#))
            }
            // A handshake NIO would fail before asking the gateway: refused, not lost.
            let upgrade = "GET /streams/nobody?ticket=bogus HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            for (headers, status, detail) in [
                ("Sec-WebSocket-Version: 13\r\n", "400", "one Sec-WebSocket-Key"),
                (key + key + "Sec-WebSocket-Version: 13\r\n", "400", "one Sec-WebSocket-Key"),
                (key + "Sec-WebSocket-Version: 8\r\n", "426", "Sec-WebSocket-Version: 13"),
                (key, "426", "Sec-WebSocket-Version: 13"),
            ] {
                let refused = try await Self.answer(to: upgrade + headers + "\r\n", port: port)
                #expect(refused.hasPrefix("HTTP/1.1 \(status)") && refused.contains(detail), "\(headers): \(refused)")
            }
            // A body announced and never sent: refused at once, not left waiting.
            let started = ContinuousClock.now
            let text = try await Self.answer(
                to: "GET /streams/nobody?ticket=bogus HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nContent-Length: 10\r\n\r\n",
                port: port)
            #expect(text.hasPrefix("HTTP/1.1 400"), "\(text)")
            #expect(text.hasSuffix(#"{"detail":"A WebSocket upgrade request has no body"}"#))
            // Left waiting for the body, only the 60 s idle timeout would end it (the head is
            // whole, so the header timeout does not).
            #expect(ContinuousClock.now - started < .seconds(25))
        }
    }

    @Test("create-and-end loops are bounded: NEOSC_DEMO_RATE_PER_IP demos per hour per address, NEOSC_DEMO_RATE overall")
    func demoCreationIsRateLimited() async throws {
        try await RecordingPeer.with { peer in
            let settings = DemoSessionTests.settings(peer: peer, lifetime: 600, maxDuration: 1_200, perAddress: 1)
            let clock = ManualClock(Date())
            try await Harness.run(
                .router, clock: clock.wallClock,
                {
                    settings(&$0)
                    $0.demo.creationsPerAddressPerHour = 3
                }
            ) { harness, client in
                // Each demo is ended before the next: the active limit (1 per address) never bites.
                for round in 0..<3 {
                    let started = try await DemoSessionTests.create(client).decoded(DemoCreatedBody.self)
                    let ended = try await client.send(.delete, "/api/demo/sessions/\(started.demoSessionID)", token: started.accessToken)
                    #expect(ended.status == .ok, "round \(round)")
                }
                for _ in 0..<5 {
                    let refused = try await DemoSessionTests.create(client)
                    #expect(refused.status == .tooManyRequests, "\(refused.text)")
                    let retryAfter = try #require(Int(refused.headers[.retryAfter] ?? ""))
                    #expect(retryAfter > 0 && retryAfter <= 3_600)
                }
                let refusals = try await harness.store.events(AuditQuery(action: .demoSessionCreated, success: false))
                #expect(refusals.count == 1 && refusals.first?.details["reason"] == "rate_limited", "audited once per hour")
                #expect(try await harness.store.demos(userID: nil, limit: 100).count == 3, "refusals leave nothing behind")

                clock.advance(3_601)
                #expect(try await DemoSessionTests.create(client).status == .created, "a new hour, a new allowance")
            }
        }
        // The overall rate, across addresses.
        try await RecordingPeer.with { peer in
            let settings = DemoSessionTests.settings(peer: peer, lifetime: 600, maxDuration: 1_200, perAddress: 10)
            try await Harness.run(
                .router,
                {
                    settings(&$0)
                    $0.demo.creationsPerHour = 2
                }
            ) { _, client in
                #expect(try await DemoSessionTests.create(client).status == .created)
                #expect(try await DemoSessionTests.create(client).status == .created)
                let refused = try await DemoSessionTests.create(client)
                #expect(refused.status == .tooManyRequests)
                #expect(try refused.decoded(ErrorBody.self).detail.contains("overall"))
            }
        }
    }

    @Test("one client signing in in a loop is bounded: 30 a minute per account from one address, then 429; nobody else is held back")
    func signInLoopsAreBounded() async throws {
        let clock = ManualClock(Date())
        try await Harness.run(.live, clock: clock.wallClock, Self.trustingLoopback) { harness, client in
            try await harness.account(.user, email: "kim@example.com")
            try await harness.account(.user, email: "lee@example.com")
            func login(_ email: String, from address: String) async throws -> Reply {
                try await Self.login(client, email, Harness.password, from: address)
            }
            for attempt in 0..<30 {
                #expect(try await login("kim@example.com", from: "198.51.100.20").status == .ok, "sign-in \(attempt + 1)")
            }
            let refused = try await login("kim@example.com", from: "198.51.100.20")
            #expect(refused.status == .tooManyRequests, "\(refused.text)")
            #expect(Int(refused.headers[.retryAfter] ?? "").map { $0 > 0 && $0 <= 60 } == true)
            _ = try await login("kim@example.com", from: "198.51.100.20")
            let audited = try await harness.store.events(AuditQuery(action: .loginFailed)).filter { $0.details["reason"] == "too_many_attempts" }
            #expect(audited.count == 1)
            #expect(try await login("lee@example.com", from: "198.51.100.20").status == .ok, "another account is not held back")
            #expect(try await login("kim@example.com", from: "203.0.113.30").status == .ok, "nor the same account from elsewhere")
            clock.advance(61)
            #expect(try await login("kim@example.com", from: "198.51.100.20").status == .ok, "a new minute")
        }
    }

    @Test("past its queue limit the password hasher refuses at once (503) instead of queueing without bound")
    func passwordHashingIsBounded() async throws {
        let threads = NIOThreadPool(numberOfThreads: 1)
        threads.start()
        let hasher = PasswordHasher(cost: 4, threadPool: threads, maxQueued: 2)
        let hash = try await hasher.hash("a password")
        // The hasher's only thread is held, so every admitted hash waits in the queue: exactly
        // `maxQueued` are admitted and the rest refused, however fast or slow the machine is.
        let gate = DispatchSemaphore(value: 0)
        let holding = Atomic<Bool>(false)
        let blocker = Task {
            try await threads.runIfActive {
                holding.store(true, ordering: .sequentiallyConsistent)
                gate.wait()
            }
        }
        while !holding.load(ordering: .sequentiallyConsistent) { try await Task.sleep(for: .milliseconds(1)) }
        let release = Task {
            try? await Task.sleep(for: .seconds(60))  // a broken bound would admit more: never wait forever
            gate.signal()
        }
        let outcomes = await withTaskGroup(of: Bool?.self) { group in
            for _ in 0..<6 {
                group.addTask {
                    do {
                        return try await hasher.verify("a password", against: hash)
                    } catch DomainError.unavailable {
                        return nil
                    } catch {
                        return false
                    }
                }
            }
            var outcomes: [Bool?] = []
            for await outcome in group {
                outcomes.append(outcome)
                if outcomes.filter({ $0 == nil }).count == 4 { gate.signal() }
            }
            return outcomes
        }
        release.cancel()
        _ = try await blocker.value
        #expect(outcomes.filter { $0 == nil }.count == 4, "two admitted, four refused: \(outcomes)")
        #expect(outcomes.filter { $0 == true }.count == 2, "the admitted ones verified")
        #expect(try await hasher.verify("a password", against: hash), "free again once the queue drains")
        try await hasher.shutdown()
    }

    @Test("a flood of rejected Pomerium assertions writes one audit row a minute per address and reason, and counts them all")
    func rejectedAssertionsAreAggregated() async throws {
        // "A minute" is a window from the first refusal: on a clock that stands still, 200
        // requests on a loaded machine all fall in it.
        let clock = ManualClock(Date())
        try await TestSigner.with { signer in
            try await Harness.run(.router, clock: clock.wallClock, PomeriumTests.settings(signer: signer)) { harness, client in
                let longPath = "/api/workspaces/" + String(repeating: "x", count: 2_000)
                for index in 0..<200 {
                    let reply = try await client.send(.get, "\(longPath)\(index)", headers: PomeriumTests.headers("not-a-jwt"))
                    #expect(reply.status == .unauthorized)
                }
                let rows = try await harness.store.events(AuditQuery(action: .pomeriumAssertionRejected, limit: 500))
                #expect(rows.count == 1, "one row for the minute, not one per request")
                #expect(rows.first.map { ($0.details["path"]?.utf8.count ?? 0) <= 1_024 } == true, "and a bounded one")
                #expect(harness.metric(#"auth_failures_total{reason="malformed_token"}"#) == 200)
            }
        }
    }

    @Test("failing an account's logins from elsewhere does not lock its owner out; an administrator can clear the throttle")
    func failedLoginsAreNotALockOutLever() async throws {
        // On a clock of its own: the account-wide count's window is a minute, and on a loaded
        // machine a minute of real time can pass between the failures and the unlock.
        let clock = ManualClock(Date())
        try await Harness.run(.live, clock: clock.wallClock, Self.trustingLoopback) { harness, client in
            let (owner, _) = try await harness.account(.admin, email: "owner@example.com")
            let admin = try await harness.account(.admin).token
            func login(_ password: String, from address: String) async throws -> Reply {
                try await Self.login(client, "owner@example.com", password, from: address)
            }
            // An attacker fails ten times from one address: that address is held back…
            for _ in 0..<10 { #expect(try await login("guess guess", from: "198.51.100.9").status == .unauthorized) }
            #expect(try await login(Harness.password, from: "198.51.100.9").status == .tooManyRequests)
            // …and a second one, once it has failed too, by the account-wide count.
            #expect(try await login("guess again", from: "198.51.100.10").status == .unauthorized)
            #expect(try await login(Harness.password, from: "198.51.100.10").status == .tooManyRequests)
            // The owner, from an address that never failed, signs in.
            let ownerLogin = try await login(Harness.password, from: "203.0.113.5")
            #expect(ownerLogin.status == .ok, "\(ownerLogin.text)")

            // An administrator clears the account's throttle: the held-back addresses may try again.
            let cleared = try await client.send(.delete, "/api/users/\(owner.id)/login-throttle", token: admin)
            #expect(cleared.status == .ok, "\(cleared.text)")
            #expect(cleared["addresses_cleared"] as? Int == 2)
            #expect(try await login(Harness.password, from: "198.51.100.9").status == .ok)
            let audited = try await harness.store.events(AuditQuery(action: .clearLoginThrottle))
            #expect(audited.count == 1 && audited.first?.resourceID == owner.id)
            // The unlock is applied once: failures counted after it hold the address back again,
            // however often the recorded unlocks are read.
            for _ in 0..<10 { #expect(try await login("guess guess", from: "198.51.100.9").status == .unauthorized) }
            try await harness.portal.signIn.applyRecordedUnlocks()
            #expect(try await login(Harness.password, from: "198.51.100.9").status == .tooManyRequests)
            let user = try await harness.account(.user).token
            #expect(try await client.send(.delete, "/api/users/\(owner.id)/login-throttle", token: user).status == .forbidden)
        }
    }

    @Test("an IPv6 host is one client to the login and registration throttles: its /64, not each address it holds")
    func anIPv6HostIsOneClient() async throws {
        let clock = ManualClock(Date())
        try await Harness.run(.live, clock: clock.wallClock, Self.trustingLoopback) { harness, client in
            try await harness.account(.user, email: "ivy@example.com")
            func login(_ password: String, from address: String) async throws -> Reply {
                try await Self.login(client, "ivy@example.com", password, from: address)
            }
            // Ten guesses, each from another address of one /64: that /64 is held back as one client…
            for host in 1...10 {
                #expect(try await login("guess guess", from: "2001:db8:7:1::\(host)").status == .unauthorized)
            }
            let again = try await login(Harness.password, from: "2001:db8:7:1:ffff::1")
            #expect(again.status == .tooManyRequests, "\(again.text)")
            // …and another /64, which never failed, is another client.
            #expect(try await login(Harness.password, from: "2001:db8:7:2::1").status == .ok)
            let failures = try await harness.store.events(AuditQuery(action: .loginFailed, limit: 100))
            #expect(failures.contains { $0.ipAddress == "2001:db8:7:1:ffff::1" }, "the audit names the address itself")

            // Registrations: 20 an hour per client.
            func register(_ index: Int, from address: String) async throws -> Reply {
                try await client.send(
                    .post, "/api/auth/register",
                    json: body(["email": "host\(index)@example.com", "password": Harness.password, "name": "Host \(index)"]),
                    headers: [Self.forwarded: address])
            }
            for index in 1...20 { #expect(try await register(index, from: "2001:db8:9:1::\(index)").status == .created) }
            #expect(try await register(21, from: "2001:db8:9:1::ff").status == .tooManyRequests)
            #expect(try await register(22, from: "2001:db8:9:2::1").status == .created)
        }
    }

    static let forwarded = HTTPField.Name("X-Forwarded-For")!

    /// Loopback trusted as a proxy: `X-Forwarded-For` names the client.
    static func trustingLoopback(_ configuration: inout Configuration) {
        configuration.trustedProxies = TrustedProxies([AddressRange("127.0.0.0/8")!])
    }

    /// A login as from `address` (with loopback trusted as a proxy).
    static func login(_ client: some TestClientProtocol, _ email: String, _ password: String, from address: String) async throws -> Reply {
        try await client.send(
            .post, "/api/auth/login", json: body(["email": email, "password": password]), headers: [forwarded: address])
    }
}
