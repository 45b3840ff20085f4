import Foundation
import Logging
import Net
import ServiceLifecycle
import Synchronization
import TestSupport
import Testing

@testable import App

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

extension AccessLogEntry {
    static func lasting(_ duration: Duration, path: String = "/api/auth/me") -> AccessLogEntry {
        AccessLogEntry(
            method: "GET", path: path, route: "/api/auth/me", status: 200, duration: duration, peer: "192.0.2.7")
    }
}

/// `neosc serve`'s access log (issue #16): its lines are the ones swift-log's handlers wrote
/// before, they reach the output without a request waiting for it, and none is lost silently.
@Suite struct AccessLogTests {
    final class Output: Sendable {
        private let batches = Mutex<[[UInt8]]>([])
        func take(_ bytes: [UInt8]) { batches.withLock { $0.append(bytes) } }
        var lines: [String] {
            batches.withLock { $0 }.flatMap { String(decoding: $0, as: UTF8.self).split(separator: "\n").map(String.init) }
        }
        var batchCount: Int { batches.withLock { $0.count } }
    }

    static func requestLogger(id: String?) -> Logger {
        // A handler that keeps metadata, as the process's own do (the no-op one drops it).
        var logger = Logger(label: "neosc") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .critical
        if let id { logger[metadataKey: "request_id"] = .string(id) }
        return logger
    }

    static func object(_ line: String) throws -> [String: String] {
        try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String], "\(line)")
    }

    @Test func jsonLinesAreTheHandlersObjects() throws {
        let path = "/api/q\"uo\\te/\u{1}/é"
        let entry = AccessLogEntry.lasting(.microseconds(1_234), path: path)
        // What the JSON handler writes for the same request through swift-log.
        let handled = Mutex<[String]>([])
        var logger = Logger(label: "neosc") { label in
            JSONLogHandler(label: label) { data in handled.withLock { $0.append(String(decoding: data, as: UTF8.self)) } }
        }
        logger[metadataKey: "request_id"] = .string("req-7")
        LoggerAccessLog().record(entry, logger: logger)

        let output = Output()
        let log = BufferedAccessLog(format: .json, output: output.take)
        log.record(entry, logger: Self.requestLogger(id: "req-7"))
        #expect(output.lines.isEmpty, "nothing is written on the request's path")
        log.flush()
        let lines = output.lines
        #expect(lines.count == 1)
        var ours = try Self.object(try #require(lines.first))
        let handledLine = handled.withLock { $0.first }?.trimmingCharacters(in: .newlines)
        var theirs = try Self.object(try #require(handledLine))
        #expect(ours["path"] == path && ours["request_id"] == "req-7" && ours["duration_ms"] == "1.234")
        let stamp = ours.removeValue(forKey: "timestamp") ?? ""
        #expect(stamp.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil, "\(stamp)")
        theirs.removeValue(forKey: "timestamp")
        #expect(ours == theirs)
        // Keys in the handler's order too: sorted.
        let keys = ObservabilityTests.objectKeys(lines[0]).first ?? []
        #expect(keys == keys.sorted() && keys.count == 12)
    }

    @Test func textLinesAreStreamLogHandlersLines() throws {
        let output = Output()
        let log = BufferedAccessLog(format: .text, output: output.take)
        log.record(.lasting(.microseconds(40)), logger: Self.requestLogger(id: "req-8"))
        log.record(.lasting(.seconds(2)), logger: Self.requestLogger(id: nil))
        log.flush()
        let lines = output.lines
        #expect(lines.count == 2)
        let first = try #require(lines.first)
        let expected =
            " info neosc: duration_ms=0.040 method=GET path=/api/auth/me peer=192.0.2.7 request_id=req-8"
            + " route=/api/auth/me status=200 [Net] request"
        #expect(first.hasSuffix(expected), "\(first)")
        #expect(first.dropLast(expected.count).wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}/) != nil, "\(first)")
        #expect(
            lines.last?.hasSuffix(
                " info neosc: duration_ms=2000.000 method=GET path=/api/auth/me peer=192.0.2.7 route=/api/auth/me status=200 [Net] request") == true)
        #expect(output.batchCount == 1, "one write for both")
    }

    /// The text access line is the line `TextLogHandler` writes for the same request, and that
    /// handler writes swift-log's `StreamLogHandler` layout: metadata sorted, provider and
    /// explicit metadata over the logger's own.
    @Test func textLinesAreTheTextHandlersLines() throws {
        let handled = Mutex<[String]>([])
        var logger = Logger(label: "neosc") { label in
            TextLogHandler(label: label) { line in handled.withLock { $0.append(line) } }
        }
        logger[metadataKey: "request_id"] = .string("req-11")
        let entry = AccessLogEntry.lasting(.microseconds(2_500))
        LoggerAccessLog().record(entry, logger: logger)
        let output = Output()
        let log = BufferedAccessLog(format: .text, output: output.take)
        log.record(entry, logger: Self.requestLogger(id: "req-11"))
        log.flush()
        let theirs = try #require(handled.withLock { $0.first })
        let ours = try #require(output.lines.first)
        #expect(theirs.hasSuffix("\n"))
        #expect(ours.split(separator: " ").dropFirst() == theirs.dropLast().split(separator: " ").dropFirst())

        logger[metadataKey: "zeta"] = "last"
        logger.warning("hello", metadata: ["alpha": "first", "request_id": "req-12"])
        let line = try #require(handled.withLock { $0.last })
        #expect(line.hasSuffix(" warning neosc: alpha=first request_id=req-12 zeta=last [NeoSCTests] hello\n"), "\(line)")
        #expect(line.prefix(24).wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}/) != nil, "\(line)")
    }

    /// An output that stops taking lines fills the buffer up to its capacity, not beyond; what
    /// did not fit is counted and reported, and lines flow again once the buffer is written.
    @Test func aFullBufferCountsWhatItDrops() throws {
        let output = Output()
        let log = BufferedAccessLog(format: .json, capacity: 700, output: output.take)
        for _ in 0..<10 { log.record(.lasting(.milliseconds(1)), logger: Self.requestLogger(id: "req-9")) }
        log.flush()
        let lines = output.lines
        let kept = lines.filter { $0.contains("\"message\":\"request\"") }
        #expect(kept.count >= 1 && kept.count < 10)
        let report = try Self.object(try #require(lines.last))
        #expect(report["level"] == "warning" && report["dropped"] == String(10 - kept.count))
        log.record(.lasting(.milliseconds(1)), logger: Self.requestLogger(id: "req-10"))
        log.flush()
        #expect(output.lines.last?.contains("req-10") == true)
        #expect(output.lines.count == lines.count + 1, "no second report once nothing was dropped")
    }

    /// Batches reach stderr in pieces of whole lines no longer than PIPE_BUF, so that another
    /// thread's log line can never land inside one of them.
    @Test func batchesAreWrittenInWholeLinesOfAtMostPipeBuf() {
        func pieces(_ text: String, limit: Int) -> [String] {
            let bytes = Array(text.utf8)
            return bytes.withUnsafeBytes { raw in
                BufferedAccessLog.pieces(of: raw, limit: limit).map { String(decoding: bytes[$0], as: UTF8.self) }
            }
        }
        #expect(pieces("aa\nbb\ncc\n", limit: 6) == ["aa\nbb\n", "cc\n"])
        #expect(pieces("aa\nbb\ncc\n", limit: 100) == ["aa\nbb\ncc\n"])
        #expect(pieces("aa\nbbbbbbbbbb\ncc\n", limit: 6) == ["aa\n", "bbbbbbbbbb\n", "cc\n"], "a long line alone")
        #expect(pieces("aa\nbb", limit: 6) == ["aa\n", "bb"])
        #expect(pieces("", limit: 6) == [])
        let lines = (0..<500).map { "line \($0) " + String(repeating: "x", count: $0 % 90) + "\n" }.joined()
        let cut = pieces(lines, limit: Int(PIPE_BUF))
        #expect(cut.joined() == lines && cut.count > 1)
        #expect(cut.allSatisfy { $0.utf8.count <= Int(PIPE_BUF) && $0.hasSuffix("\n") })
    }

    /// At shutdown the last lines are written, however long the interval.
    @Test func shutdownWritesTheLastLines() async throws {
        let output = Output()
        let log = BufferedAccessLog(format: .text, interval: .seconds(3_600), output: output.take)
        let group = ServiceGroup(services: [log], logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            log.record(.lasting(.milliseconds(3)), logger: Self.requestLogger(id: "req-last"))
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(output.lines.count == 1 && output.lines[0].contains("request_id=req-last"))
    }

    /// `neosc serve` writes its access lines through it, within its interval, request ids in them.
    @Test func theServerWritesItsAccessLines() async throws {
        let environment = [
            "NEOSC_DATA_DIR": Harness.makeDirectory().path, "LOG_LEVEL": "info", "LOG_FORMAT": "json",
        ]
        try await withLiveServers([environment]) { servers in
            let server = servers[0]
            try await server.waitUntilHealthy()
            var request = URLRequest(url: URL(string: server.base + "/api/?access_token=secret-in-url")!)
            request.setValue("req-live-1", forHTTPHeaderField: "X-Request-ID")
            _ = try await URLSession.shared.data(for: request)
            // Well within the 25 ms interval on a quiet machine; 30 s is "not never".
            var line: String?
            _ = try await eventually {
                line = server.log.split(separator: "\n").map(String.init).first { $0.contains("req-live-1") }
                return line != nil
            }
            let object = try Self.object(try #require(line, "no access line in: \(server.log.suffix(2_000))"))
            #expect(object["route"] == "/api/" || object["route"] == "/api")
            #expect(object["path"] == "/api/" && object["status"] == "200" && object["message"] == "request")
            #expect(!server.log.contains("secret-in-url"))
        }
    }
}
