import Domain
import Foundation

/// An audit entry as an RFC 5424 syslog message, framed for TCP by octet counting (RFC 6587
/// §3.4.1, which RFC 5425 uses over TLS too): `<length> <PRI>1 TIMESTAMP HOST neosc - ACTION
/// [neosc@32473 seq="…" hash="…" id="…"] <BOM>{the entry as JSON}`.
///
/// Facility 13 (log audit); severity 6 (informational) for a success, 4 (warning) for a refusal.
/// The structured data names the entry's place in the chain: `seq` is the idempotency key by
/// which a receiver drops an entry delivered twice. 32473 is the enterprise number RFC 5612
/// reserves for documentation; NeoSC has none of its own.
enum SyslogMessage {
    static func framed(_ event: AuditEvent, json: Data, hostname: String) -> [UInt8] {
        let message = Array(header(event, hostname: hostname).utf8) + [0xEF, 0xBB, 0xBF] + Array(json)
        return Array("\(message.count) ".utf8) + message
    }

    static func header(_ event: AuditEvent, hostname: String) -> String {
        let priority = 13 * 8 + (event.success ? 6 : 4)
        let timestamp = Self.timestamp(event.timestamp)
        var data = "[neosc@32473"
        if let seal = event.seal {
            data += " seq=\"\(seal.seq)\" hash=\"\(Hex.encode(seal.hash))\""
        }
        data += " id=\"\(parameter(event.id))\"]"
        return "<\(priority)>1 \(timestamp) \(field(hostname, limit: 255)) neosc - \(field(event.action.rawValue, limit: 32)) \(data) "
    }

    /// `2026-12-02T01:15:00.123Z`: UTC, milliseconds (RFC 5424 §6.2.3).
    static func timestamp(_ date: Date) -> String {
        let milliseconds = AuditChain.milliseconds(date)
        var seconds = time_t(milliseconds.quotientAndRemainder(dividingBy: 1_000).quotient)
        let fraction = ((milliseconds % 1_000) + 1_000) % 1_000
        if milliseconds < 0 && fraction != 0 { seconds -= 1 }
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1_900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec, Int32(fraction))
    }

    /// A header field: printable US-ASCII without spaces, at most `limit` characters, `-` if empty.
    static func field(_ text: String, limit: Int) -> String {
        let printable = String(String.UnicodeScalarView(text.unicodeScalars.filter { (33...126).contains($0.value) }.prefix(limit)))
        return printable.isEmpty ? "-" : printable
    }

    /// A structured-data parameter value: `"`, `\` and `]` escaped (RFC 5424 §6.3.3).
    static func parameter(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if character == "\"" || character == "\\" || character == "]" { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}
