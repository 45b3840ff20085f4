import Foundation
import Logging

/// Readable log lines on stderr (`LOG_FORMAT=text`, the default): the lines of swift-log's
/// `StreamLogHandler` (`2026-12-02T07:15:00+0000 info neosc: key=value … [Source] message`,
/// metadata sorted by key), without its cost per request: `StreamLogHandler` formats all of its
/// metadata again each time a key is set, which every request does twice (Hummingbird's
/// `hb.request.id`, NeoSC's `request_id`) whether or not anything is then logged (issue #16).
/// This one formats only when it writes a line.
struct TextLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    private let write: @Sendable (String) -> Void

    init(label: String, metadataProvider: Logger.MetadataProvider? = nil, write: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.write = write
    }

    static func standardError(label: String) -> TextLogHandler {
        TextLogHandler(label: label) { line in FileHandle.standardError.write(Data(line.utf8)) }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let pretty = mergedMetadata(event).sorted { $0.key < $1.key }.map { " \($0.key)=\($0.value)" }.joined()
        let separator = label.isEmpty ? "" : " "
        write("\(Self.timestamp()) \(event.level)\(separator)\(label):\(pretty) [\(event.source)] \(event.message)\n")
    }

    /// `2026-12-02T07:15:00+0000`, local time, as `StreamLogHandler` writes it.
    static func timestamp(_ date: Date = Date()) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        localtime_r(&seconds, &parts)
        var text = [Int8](repeating: 0, count: 64)
        let length = strftime(&text, text.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
        return String(decoding: text.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
