import Domain
import Foundation
import NIOCore

/// How `GET /api/audit-logs/export` writes entries: CSV (RFC 4180, one header row) or JSON lines
/// (each entry as the list returns it, one per line).
enum AuditExportFormat: String, CaseIterable {
    case csv, jsonl

    init(_ text: String?) throws(DomainError) {
        guard let text, let format = Self(rawValue: text) else {
            throw .invalid("Query parameter 'format' must be csv or jsonl")
        }
        self = format
    }

    var contentType: String {
        switch self {
        case .csv: "text/csv; charset=utf-8"
        case .jsonl: "application/x-ndjson"
        }
    }

    static let csvColumns = [
        "id", "timestamp", "user_id", "user_email", "action", "resource", "resource_type", "resource_id", "success",
        "ip_address", "details",
    ]

    /// What comes before the first entry.
    var preamble: String {
        switch self {
        case .csv: Self.csvColumns.joined(separator: ",") + "\r\n"
        case .jsonl: ""
        }
    }

    /// One page of entries, each ending with its line break.
    func encode(_ events: [AuditEvent], into buffer: inout ByteBuffer) throws {
        switch self {
        case .jsonl:
            for event in events {
                buffer.writeBytes(try PortalJSON.encoder.encode(event))
                buffer.writeStaticString("\n")
            }
        case .csv:
            for event in events {
                let fields: [String] = [
                    event.id, event.timestamp.formatted(.iso8601), event.userID ?? "", event.userEmail ?? "",
                    event.action.rawValue, event.resource ?? "", event.resourceType ?? "", event.resourceID ?? "",
                    event.success ? "true" : "false", event.ipAddress ?? "",
                    String(decoding: try Self.detailsEncoder.encode(event.details), as: UTF8.self),
                ]
                buffer.writeString(fields.map(Self.csvField).joined(separator: ",") + "\r\n")
            }
        }
    }

    /// `details` as one JSON object with its keys sorted, so equal entries export alike.
    private static let detailsEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// A CSV field: quoted when it holds a comma, quote or line break (quotes doubled); and, since
    /// an export is opened in spreadsheets, a value a spreadsheet would run as a formula (one that
    /// starts with `=`, `+`, `-`, `@`, a tab or a carriage return) is prefixed with `'`, so a
    /// user-chosen name or address in the trail cannot become a formula on an auditor's machine.
    static func csvField(_ value: String) -> String {
        var value = value
        if let first = value.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) {
            value = "'" + value
        }
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
