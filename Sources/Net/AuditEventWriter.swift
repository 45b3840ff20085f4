import Domain
import Foundation
import NIOCore

/// Writes audit entries as JSON straight into a buffer, fields in their declared order: the same
/// JSON values `PortalJSON.encoder` gives (tested entry by entry), without Foundation's generic
/// encoder, which cost most of the time of a list or an export (issue #16: lists without
/// `JSONEncoder` on the hot path; issue #14: export speed). Public for the allocation benchmark
/// (`Benchmarks/micro`), which holds a list's encoding to a committed baseline.
public enum AuditEventWriter {
    /// `[entry,entry,…]`.
    public static func writeArray(_ events: [AuditEvent], into buffer: inout ByteBuffer) {
        writeArray(events, into: &buffer, element: write)
    }

    /// `[a,b,…]`, each element written by `element`.
    static func writeArray<Element>(
        _ elements: [Element], into buffer: inout ByteBuffer, element: (Element, inout ByteBuffer) -> Void
    ) {
        buffer.writeInteger(UInt8(ascii: "["))
        for (index, value) in elements.enumerated() {
            if index > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
            element(value, &buffer)
        }
        buffer.writeInteger(UInt8(ascii: "]"))
    }

    /// One entry as a JSON object: absent optionals left out, `resource` after `resource_id`, its
    /// place in the chain (`seq`, `prev_hash`, `hash`) last.
    static func write(_ event: AuditEvent, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("{\"id\":")
        writeString(event.id, into: &buffer)
        buffer.writeStaticString(",\"timestamp\":\"")
        writeTimestamp(event.timestamp, into: &buffer)
        buffer.writeInteger(UInt8(ascii: "\""))
        writeField(",\"user_id\":", event.userID, into: &buffer)
        writeField(",\"user_email\":", event.userEmail, into: &buffer)
        writeField(",\"action\":", event.action.rawValue, into: &buffer)
        writeField(",\"resource_type\":", event.resourceType, into: &buffer)
        writeField(",\"resource_id\":", event.resourceID, into: &buffer)
        if let type = event.resourceType {
            // `event.resource` ("type:id") spelt into the buffer, without making the string.
            buffer.writeStaticString(",\"resource\":\"")
            writeEscaped(type, into: &buffer)
            if let id = event.resourceID {
                buffer.writeInteger(UInt8(ascii: ":"))
                writeEscaped(id, into: &buffer)
            }
            buffer.writeInteger(UInt8(ascii: "\""))
        }
        buffer.writeStaticString(",\"details\":")
        writeObject(event.details, into: &buffer)
        writeField(",\"ip_address\":", event.ipAddress, into: &buffer)
        buffer.writeStaticString(event.success ? ",\"success\":true" : ",\"success\":false")
        if let seal = event.seal {
            buffer.writeStaticString(",\"seq\":")
            buffer.writeString(String(seal.seq))
            buffer.writeStaticString(",\"prev_hash\":\"")
            writeHex(seal.prevHash, into: &buffer)
            buffer.writeStaticString("\",\"hash\":\"")
            writeHex(seal.hash, into: &buffer)
            buffer.writeInteger(UInt8(ascii: "\""))
        }
        buffer.writeInteger(UInt8(ascii: "}"))
    }

    /// `prefix` (a comma and the quoted key with its colon) and the value, or nothing when it is nil.
    static func writeField(_ prefix: StaticString, _ value: String?, into buffer: inout ByteBuffer) {
        guard let value else { return }
        buffer.writeStaticString(prefix)
        writeString(value, into: &buffer)
    }

    /// A string map as a JSON object, keys sorted (so equal maps are equal text). The keys are
    /// sorted in scratch space (on the stack for an entry's few details), not in a new array.
    static func writeObject(_ map: [String: String], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "{"))
        withUnsafeTemporaryAllocation(of: (key: String, value: String).self, capacity: map.count) { scratch in
            _ = scratch.initialize(fromContentsOf: map)
            defer { scratch.deinitialize() }
            var sorted = scratch
            sorted.sort { $0.key < $1.key }
            for (index, pair) in sorted.enumerated() {
                if index > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
                writeString(pair.key, into: &buffer)
                buffer.writeInteger(UInt8(ascii: ":"))
                writeString(pair.value, into: &buffer)
            }
        }
        buffer.writeInteger(UInt8(ascii: "}"))
    }

    /// Lower-case hexadecimal, as `Hex.encode` spells it, straight into the buffer.
    static func writeHex(_ bytes: [UInt8], into buffer: inout ByteBuffer) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: bytes.count * 2) { target in
            for (index, byte) in bytes.enumerated() {
                target[2 * index] = hexDigits[Int(byte >> 4)]
                target[2 * index + 1] = hexDigits[Int(byte & 0x0F)]
            }
            return bytes.count * 2
        }
    }

    /// A JSON string (RFC 8259): quotes, backslashes and control characters escaped; everything
    /// else, `/` and non-ASCII included, written as its UTF-8 bytes. (Also the JSON log's.)
    package static func writeString(_ text: String, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        writeEscaped(text, into: &buffer)
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    /// What goes between a JSON string's quotes: `text` with quotes, backslashes and control
    /// characters escaped.
    private static func writeEscaped(_ text: String, into buffer: inout ByteBuffer) {
        var text = text
        text.withUTF8 { bytes in
            var start = 0
            for (index, byte) in bytes.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[start..<index]))
                switch byte {
                case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
                case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
                case 0x0A: buffer.writeStaticString("\\n")
                case 0x0D: buffer.writeStaticString("\\r")
                case 0x09: buffer.writeStaticString("\\t")
                case 0x08: buffer.writeStaticString("\\b")
                case 0x0C: buffer.writeStaticString("\\f")
                default:
                    buffer.writeStaticString("\\u00")
                    buffer.writeInteger(hexDigits[Int(byte >> 4)])
                    buffer.writeInteger(hexDigits[Int(byte & 0x0F)])
                }
                start = index + 1
            }
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[start...]))
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// `yyyy-MM-ddTHH:mm:ssZ` in UTC, whole seconds (rounded down), as `.iso8601` dates encode.
    static func writeTimestamp(_ date: Date, into buffer: inout ByteBuffer) {
        // Clamped to years 0001–9999: a stored time out of range is written at the bound, never a crash.
        // (A time that is not a number, which no clock gives, is written as the epoch, not a crash.)
        let interval = date.timeIntervalSince1970.isNaN ? 0 : date.timeIntervalSince1970
        var seconds = time_t(min(max(interval.rounded(.down), -62_135_596_800), 253_402_300_799))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        // Twenty bytes in one write, not a write (and a capacity check) per byte.
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 20) { target in
            func digits(_ value: Int32, _ count: Int, at offset: Int) {
                var value = value
                for position in (offset..<offset + count).reversed() {
                    target[position] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
            }
            digits(parts.tm_year + 1_900, 4, at: 0)
            target[4] = UInt8(ascii: "-")
            digits(parts.tm_mon + 1, 2, at: 5)
            target[7] = UInt8(ascii: "-")
            digits(parts.tm_mday, 2, at: 8)
            target[10] = UInt8(ascii: "T")
            digits(parts.tm_hour, 2, at: 11)
            target[13] = UInt8(ascii: ":")
            digits(parts.tm_min, 2, at: 14)
            target[16] = UInt8(ascii: ":")
            digits(parts.tm_sec, 2, at: 17)
            target[19] = UInt8(ascii: "Z")
            return 20
        }
    }
}
