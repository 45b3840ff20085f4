import Foundation
import Logging
import NIOCore
import NIOPosix
import Net
import ServiceLifecycle
import Synchronization

/// The access log of `neosc serve` (issue #16: logging on must cost at most 5 % of the floor).
/// Each line is written straight from the entry into a shared buffer, in the format of the
/// process's other lines (`LOG_FORMAT`): the same JSON object as `JSONLogHandler` would write, or
/// the same text as swift-log's `StreamLogHandler`. As a service, it writes the buffer to the
/// output in one `write` every `interval` (25 ms by default) and once more after the server has
/// stopped; a request never waits for the output.
///
/// What it gives up: a process that crashes loses at most the last `interval` of access lines
/// (audit entries are the durable record, written before each response), and access lines may
/// reach the output up to `interval` after other log lines of the same time. When the output
/// stops taking lines, the buffer stops at `capacity`; lines past it are counted, and the count
/// is written as a line of its own once there is room again, never silently lost.
final class BufferedAccessLog: AccessLog, Service {
    enum Format: Sendable { case json, text }

    private struct State {
        var pending = ByteBuffer()
        var dropped = 0
        /// The second the cached prefixes below are for (each formatted once a second).
        var second = -1
        /// `"2026-12-02T07:15:00.` (UTC) for JSON lines; `2026-12-02T07:15:00+0000` (local) for text.
        var secondPrefix: [UInt8] = []
    }

    private let format: Format
    private let label: String
    private let interval: Duration
    private let capacity: Int
    private let output: @Sendable ([UInt8]) -> Void
    private let state = Mutex(State())

    /// - Parameters:
    ///   - output: takes a batch of whole lines; by default, standard error.
    init(
        format: Format, label: String = "neosc", interval: Duration = .milliseconds(25), capacity: Int = 4 << 20,
        output: @escaping @Sendable ([UInt8]) -> Void = BufferedAccessLog.standardError
    ) {
        self.format = format
        self.label = label
        self.interval = interval
        self.capacity = capacity
        self.output = output
    }

    func record(_ entry: AccessLogEntry, logger: Logger) {
        let requestID: String? =
            switch logger[metadataKey: "request_id"] {
            case .string(let id): id
            case .stringConvertible(let id): id.description
            default: nil
            }
        let now = Date().timeIntervalSince1970
        // Whole milliseconds via microseconds, as JSONLogHandler rounds them.
        let milliseconds = Int64((now * 1_000_000).rounded()) / 1_000
        let second = Int(milliseconds / 1_000)
        // Formatted straight into the shared buffer: one lock, no allocation per line.
        state.withLock { state in
            if second != state.second {
                state.second = second
                state.secondPrefix = format == .json ? Self.utcPrefix(second) : Self.localTimestamp(second)
            }
            let start = state.pending.writerIndex
            switch format {
            case .json:
                writeJSON(
                    entry, requestID: requestID, prefix: state.secondPrefix, millisecond: Int(milliseconds % 1_000),
                    into: &state.pending)
            case .text:
                writeText(entry, requestID: requestID, timestamp: state.secondPrefix, into: &state.pending)
            }
            if state.pending.readableBytes > capacity {
                state.pending.moveWriterIndex(to: start)
                state.dropped += 1
            }
        }
    }

    /// Until shutdown, which reaches it after the server (later in the group) has stopped; then
    /// once more, for the last requests' lines. The writes run on NIO's blocking-I/O threads, not
    /// on the concurrency pool's few, so a stalled reader of stderr stalls only the log.
    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: self.interval)
                await self.flushOffTheConcurrencyPool()
            }
        }
        await flushOffTheConcurrencyPool()
    }

    private func flushOffTheConcurrencyPool() async {
        do {
            try await NIOThreadPool.singleton.runIfActive { self.flush() }
        } catch {
            flush()
        }
    }

    /// Writes what is buffered, and the count of lines dropped since the last write.
    func flush() {
        let (lines, dropped) = state.withLock { state in
            let taken = (state.pending, state.dropped)
            state.pending = ByteBuffer()
            state.pending.reserveCapacity(min(capacity, taken.0.readableBytes))
            state.dropped = 0
            return taken
        }
        if lines.readableBytes > 0 { output(Array(lines.readableBytesView)) }
        if dropped > 0 { output(droppedLine(dropped)) }
    }

    // MARK: - Lines

    private func droppedLine(_ count: Int) -> [UInt8] {
        let message = "access log lines dropped: the output did not keep up"
        switch format {
        case .json:
            var buffer = ByteBuffer()
            buffer.writeString("{\"dropped\":\"\(count)\",\"label\":")
            AuditEventWriter.writeString(label, into: &buffer)
            buffer.writeString(",\"level\":\"warning\",\"message\":\"\(message)\",\"source\":\"App\",\"timestamp\":")
            AuditEventWriter.writeString(JSONLogHandler.timestamp(), into: &buffer)
            buffer.writeStaticString("}\n")
            return Array(buffer.readableBytesView)
        case .text:
            let timestamp = String(decoding: Self.localTimestamp(Int(Date().timeIntervalSince1970)), as: UTF8.self)
            return Array("\(timestamp) warning \(label): dropped=\(count) [App] \(message)\n".utf8)
        }
    }

    /// `JSONLogHandler`'s object for the same line: keys sorted, values strings.
    private func writeJSON(
        _ entry: AccessLogEntry, requestID: String?, prefix: [UInt8], millisecond: Int, into buffer: inout ByteBuffer
    ) {
        buffer.writeStaticString("{\"duration_ms\":\"")
        Self.writeMilliseconds(entry, into: &buffer)
        buffer.writeStaticString("\",\"label\":")
        AuditEventWriter.writeString(label, into: &buffer)
        buffer.writeStaticString(",\"level\":\"info\",\"message\":\"request\",\"method\":")
        AuditEventWriter.writeString(entry.method, into: &buffer)
        buffer.writeStaticString(",\"path\":")
        AuditEventWriter.writeString(entry.path, into: &buffer)
        buffer.writeStaticString(",\"peer\":")
        AuditEventWriter.writeString(entry.peer, into: &buffer)
        if let requestID {
            buffer.writeStaticString(",\"request_id\":")
            AuditEventWriter.writeString(requestID, into: &buffer)
        }
        buffer.writeStaticString(",\"route\":")
        AuditEventWriter.writeString(entry.route, into: &buffer)
        buffer.writeStaticString(",\"source\":\"Net\",\"status\":\"")
        Self.writeDecimal(entry.status, width: 1, into: &buffer)
        buffer.writeStaticString("\",\"timestamp\":")
        buffer.writeBytes(prefix)
        Self.writeDecimal(millisecond, width: 3, into: &buffer)
        buffer.writeStaticString("Z\"}\n")
    }

    /// `StreamLogHandler`'s line: `<local time> info neosc: key=value … [Net] request`, keys sorted.
    private func writeText(_ entry: AccessLogEntry, requestID: String?, timestamp: [UInt8], into buffer: inout ByteBuffer) {
        buffer.writeBytes(timestamp)
        buffer.writeStaticString(" info ")
        buffer.writeString(label)
        buffer.writeStaticString(": duration_ms=")
        Self.writeMilliseconds(entry, into: &buffer)
        buffer.writeStaticString(" method=")
        buffer.writeString(entry.method)
        buffer.writeStaticString(" path=")
        buffer.writeString(entry.path)
        buffer.writeStaticString(" peer=")
        buffer.writeString(entry.peer)
        if let requestID {
            buffer.writeStaticString(" request_id=")
            buffer.writeString(requestID)
        }
        buffer.writeStaticString(" route=")
        buffer.writeString(entry.route)
        buffer.writeStaticString(" status=")
        Self.writeDecimal(entry.status, width: 1, into: &buffer)
        buffer.writeStaticString(" [Net] request\n")
    }

    /// `AccessLogEntry.milliseconds`, written without making a string.
    private static func writeMilliseconds(_ entry: AccessLogEntry, into buffer: inout ByteBuffer) {
        let microseconds = entry.microseconds
        writeDecimal(microseconds / 1_000, width: 1, into: &buffer)
        buffer.writeInteger(UInt8(ascii: "."))
        writeDecimal(microseconds % 1_000, width: 3, into: &buffer)
    }

    /// `value` (not negative) in decimal, zero-padded to `width` digits.
    private static func writeDecimal(_ value: Int, width: Int, into buffer: inout ByteBuffer) {
        var rest = max(0, value)
        var count = 0
        repeat {
            count += 1
            rest /= 10
        } while rest > 0
        let digits = max(count, width)
        rest = max(0, value)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: digits) { raw in
            for index in stride(from: digits - 1, through: 0, by: -1) {
                raw[index] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            }
            return digits
        }
    }

    /// `"2026-12-02T07:15:00.`: the start of a JSON timestamp in UTC, as `JSONLogHandler` writes it.
    private static func utcPrefix(_ second: Int) -> [UInt8] {
        let text = JSONLogHandler.timestamp(Date(timeIntervalSince1970: TimeInterval(second)))
        return Array("\"".utf8) + Array(text.utf8.prefix(20))
    }

    /// `2026-12-02T07:15:00+0000`: local time, as `StreamLogHandler` writes it.
    private static func localTimestamp(_ second: Int) -> [UInt8] {
        Array(TextLogHandler.timestamp(Date(timeIntervalSince1970: TimeInterval(second))).utf8)
    }

    /// All of `bytes` (whole lines) to standard error, however many `write`s that takes, in
    /// pieces of whole lines of at most `PIPE_BUF` bytes: a write that size to a pipe is never
    /// interleaved with another thread's, so the process's other log lines (written a line at a
    /// time) cannot land inside an access line. (Only a line longer than that is written alone.)
    @Sendable static func standardError(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            for piece in pieces(of: raw, limit: Int(PIPE_BUF)) {
                writeFully(UnsafeRawBufferPointer(rebasing: raw[piece]))
            }
        }
    }

    /// `bytes` cut after newlines into pieces of at most `limit` bytes; a line longer than that
    /// is a piece of its own, and bytes after the last newline are the last piece.
    static func pieces(of bytes: UnsafeRawBufferPointer, limit: Int) -> [Range<Int>] {
        var pieces: [Range<Int>] = []
        var start = 0
        var end = 0  // the end of the last whole line in the current piece
        for index in bytes.indices where bytes[index] == UInt8(ascii: "\n") {
            if index + 1 - start > limit && end > start {
                pieces.append(start..<end)
                start = end
            }
            end = index + 1
        }
        if end > start { pieces.append(start..<end) }
        if end < bytes.count { pieces.append(end..<bytes.count) }
        return pieces
    }

    private static func writeFully(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count {
            let written = write(STDERR_FILENO, bytes.baseAddress! + offset, bytes.count - offset)
            if written > 0 {
                offset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                return
            }
        }
    }
}
