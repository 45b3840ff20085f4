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
        "ip_address", "details", "seq", "prev_hash", "hash",
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
                AuditEventWriter.write(event, into: &buffer)
                buffer.writeInteger(UInt8(ascii: "\n"))
            }
        case .csv:
            var scratch = ByteBuffer()
            for event in events {
                scratch.clear()
                AuditEventWriter.writeTimestamp(event.timestamp, into: &scratch)
                let timestamp = String(buffer: scratch)
                scratch.clear()
                // `details` as one JSON object with its keys sorted, so equal entries export alike.
                AuditEventWriter.writeObject(event.details, into: &scratch)
                let fields: [String] = [
                    event.id, timestamp, event.userID ?? "", event.userEmail ?? "", event.action.rawValue,
                    event.resource ?? "", event.resourceType ?? "", event.resourceID ?? "",
                    event.success ? "true" : "false", event.ipAddress ?? "", String(buffer: scratch),
                    event.seal.map { String($0.seq) } ?? "", event.seal.map { Hex.encode($0.prevHash) } ?? "",
                    event.seal.map { Hex.encode($0.hash) } ?? "",
                ]
                for (index, field) in fields.enumerated() {
                    if index > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
                    Self.writeCSVField(field, into: &buffer)
                }
                buffer.writeStaticString("\r\n")
            }
        }
    }

    /// A CSV field: quoted when it holds a comma, quote or line break (quotes doubled); and, since
    /// an export is opened in spreadsheets, a value a spreadsheet would run as a formula (one that
    /// starts with `=`, `+`, `-`, `@`, a tab or a carriage return) is prefixed with `'`, so a
    /// user-chosen name or address in the trail cannot become a formula on an auditor's machine.
    static func csvField(_ value: String) -> String {
        var buffer = ByteBuffer()
        writeCSVField(value, into: &buffer)
        return String(buffer: buffer)
    }

    /// `csvField`, written into `buffer` byte by byte (no intermediate strings).
    static func writeCSVField(_ value: String, into buffer: inout ByteBuffer) {
        let utf8 = value.utf8
        let defused =
            utf8.first.map { [UInt8(ascii: "="), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "@"), 0x09, 0x0D].contains($0) } ?? false
        let quoted = utf8.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0A || $0 == 0x0D }
        if quoted { buffer.writeInteger(UInt8(ascii: "\"")) }
        if defused { buffer.writeInteger(UInt8(ascii: "'")) }
        if quoted {
            for byte in utf8 {
                if byte == UInt8(ascii: "\"") { buffer.writeInteger(byte) }
                buffer.writeInteger(byte)
            }
            buffer.writeInteger(UInt8(ascii: "\""))
        } else {
            buffer.writeString(value)
        }
    }
}
