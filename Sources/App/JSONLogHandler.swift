import Foundation
import Logging
import NIOCore
import Net

/// One JSON object per line on stderr, for log collectors in production (`LOG_FORMAT=json`):
/// `{"timestamp":…,"level":…,"label":…,"message":…,"request_id":…,…}`. Metadata keys become
/// top-level fields (values as strings, or nested objects and arrays).
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    private let write: @Sendable (Data) -> Void

    init(label: String, metadataProvider: Logger.MetadataProvider? = nil, write: @escaping @Sendable (Data) -> Void) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.write = write
    }

    static func standardError(label: String) -> JSONLogHandler {
        JSONLogHandler(label: label) { line in FileHandle.standardError.write(line) }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields = mergedMetadata(event).filter { !Self.ownKeys.contains($0.key) }.map { (key: $0.key, value: $0.value) }
        fields += [
            ("timestamp", .string(Self.timestamp())), ("level", .string(event.level.rawValue)), ("label", .string(label)),
            ("message", .string(event.message.description)), ("source", .string(event.source)),
        ]
        fields.sort { $0.key < $1.key }
        // Written byte by byte, not through JSONSerialization and Foundation's date formatting:
        // the access log writes a line per request (docs/benchmarks.md, issue #16).
        var line = ByteBuffer()
        line.reserveCapacity(320)
        line.writeInteger(UInt8(ascii: "{"))
        for (index, field) in fields.enumerated() {
            if index > 0 { line.writeInteger(UInt8(ascii: ",")) }
            AuditEventWriter.writeString(field.key, into: &line)
            line.writeInteger(UInt8(ascii: ":"))
            Self.writeValue(field.value, into: &line)
        }
        line.writeStaticString("}\n")
        write(Data(line.readableBytesView))
    }

    /// The fields every line has, which metadata of the same name does not replace.
    private static let ownKeys: Set<String> = ["timestamp", "level", "label", "message", "source"]

    private static func writeValue(_ value: Logger.Metadata.Value, into line: inout ByteBuffer) {
        switch value {
        case .string(let text):
            AuditEventWriter.writeString(text, into: &line)
        case .stringConvertible(let convertible):
            AuditEventWriter.writeString(convertible.description, into: &line)
        case .array(let values):
            line.writeInteger(UInt8(ascii: "["))
            for (index, element) in values.enumerated() {
                if index > 0 { line.writeInteger(UInt8(ascii: ",")) }
                writeValue(element, into: &line)
            }
            line.writeInteger(UInt8(ascii: "]"))
        case .dictionary(let dictionary):
            line.writeInteger(UInt8(ascii: "{"))
            for (index, key) in dictionary.keys.sorted().enumerated() {
                if index > 0 { line.writeInteger(UInt8(ascii: ",")) }
                AuditEventWriter.writeString(key, into: &line)
                line.writeInteger(UInt8(ascii: ":"))
                writeValue(dictionary[key]!, into: &line)
            }
            line.writeInteger(UInt8(ascii: "}"))
        }
    }

    /// Now, in UTC, to the millisecond: `2026-12-02T05:17:00.123Z`.
    static func timestamp(_ date: Date = Date()) -> String {
        // Via whole microseconds, so that a binary fraction just under a millisecond is not cut.
        let milliseconds = Int64((date.timeIntervalSince1970 * 1_000_000).rounded()) / 1_000
        var seconds = time_t(milliseconds / 1_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var text = ""
        text.reserveCapacity(24)
        func append(_ value: Int32, width: Int) {
            let digits = String(value)
            text += String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        append(parts.tm_year + 1900, width: 4)
        text += "-"
        append(parts.tm_mon + 1, width: 2)
        text += "-"
        append(parts.tm_mday, width: 2)
        text += "T"
        append(parts.tm_hour, width: 2)
        text += ":"
        append(parts.tm_min, width: 2)
        text += ":"
        append(parts.tm_sec, width: 2)
        text += "."
        append(Int32(milliseconds % 1_000), width: 3)
        text += "Z"
        return text
    }
}

extension LogHandler {
    /// The handler's metadata, then its provider's, then the event's own: each over the one before.
    func mergedMetadata(_ event: LogEvent) -> Logger.Metadata {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit = event.metadata { merged.merge(explicit) { $1 } }
        return merged
    }
}
