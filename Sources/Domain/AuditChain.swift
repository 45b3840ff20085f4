import Crypto
import Foundation

/// Where an entry stands in the audit chain: its place (`seq`, gap-free from 1), the hash of the
/// entry before it, and its own hash, which covers its contents and `prevHash`. Changing,
/// removing or reordering an entry breaks the links after it.
public struct AuditSeal: Sendable, Equatable, Codable {
    public var seq: Int64
    public var prevHash: [UInt8]
    public var hash: [UInt8]

    public init(seq: Int64, prevHash: [UInt8], hash: [UInt8]) {
        self.seq = seq
        self.prevHash = prevHash
        self.hash = hash
    }
}

/// The rule that links audit entries (docs/audit.md gives the same definition for auditors):
///
///     hash = SHA-256( "neosc-audit-v1" 0x00 ‖ prev_hash (32 bytes) ‖ fields )
///
/// where `prev_hash` is 32 zero bytes for entry 1, and `fields` are, in this order: `seq` as an
/// 8-byte big-endian integer; `id`; the timestamp in whole seconds since 1970, rounded down, as
/// the API and exports show it (8 bytes, big-endian, two's complement); `user_id`; `user_email`; `action`; `resource_type`;
/// `resource_id`; `ip_address`; `success` as one byte (1 or 0); the number of `details` (4 bytes,
/// big-endian) and then each key and value, keys in ascending order of their UTF-8 bytes. A
/// string is the byte 1, its UTF-8 length (4 bytes, big-endian) and its UTF-8 bytes; an absent
/// optional is the byte 0. Nothing is ambiguous: no two different entries encode alike.
public enum AuditChain {
    /// `prev_hash` of the first entry.
    public static let genesis = [UInt8](repeating: 0, count: 32)
    private static let domain = Array("neosc-audit-v1".utf8) + [0]

    /// `event` as the chain stores it: its timestamp in whole milliseconds (what every store
    /// keeps exactly, so that every store rounds it down to the same second) and sealed as entry
    /// `seq` after the entry whose hash is `previousHash`.
    ///
    /// - Parameter earliest: the entry before's timestamp. An entry stamped up to
    ///   `greatestCatchUp` earlier (its time was taken before another writer's entry took the
    ///   `seq` before it, or the clock stepped back a little) is stamped with it instead, so that
    ///   the trail lists by time in the order it was written. A larger step back is kept as it
    ///   is: a clock once set ahead by hours does not hold every later entry at its time.
    public static func sealed(
        _ event: AuditEvent, seq: Int64, after previousHash: [UInt8], notBefore earliest: Date? = nil
    ) -> AuditEvent {
        var event = event
        var stamp = milliseconds(event.timestamp)
        if let earliest {
            let floor = milliseconds(earliest)
            let behind = floor.subtractingReportingOverflow(stamp)
            if floor > stamp, !behind.overflow, behind.partialValue <= greatestCatchUp { stamp = floor }
        }
        event.timestamp = Date(timeIntervalSince1970: Double(stamp) / 1_000)
        event.seal = nil
        event.seal = AuditSeal(seq: seq, prevHash: previousHash, hash: hash(of: event, seq: seq, after: previousHash))
        return event
    }

    /// How far back of the entry before an entry's time may be and still take that entry's
    /// time, in milliseconds: a minute.
    public static let greatestCatchUp: Int64 = 60_000

    /// The hash `event` must carry as entry `seq` after `previousHash` (its own seal is ignored).
    public static func hash(of event: AuditEvent, seq: Int64, after previousHash: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        bytes += domain
        bytes += previousHash
        append(seq, to: &bytes)
        append(event.id, to: &bytes)
        append(clamped(event.timestamp.timeIntervalSince1970.rounded(.down)), to: &bytes)
        append(event.userID, to: &bytes)
        append(event.userEmail, to: &bytes)
        append(event.action.rawValue, to: &bytes)
        append(event.resourceType, to: &bytes)
        append(event.resourceID, to: &bytes)
        append(event.ipAddress, to: &bytes)
        bytes.append(event.success ? 1 : 0)
        let keys = event.details.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        append(UInt32(keys.count), to: &bytes)
        for key in keys {
            append(key, to: &bytes)
            append(event.details[key], to: &bytes)
        }
        return Array(SHA256.hash(data: bytes))
    }

    /// Whole milliseconds since 1970, rounded to the nearest (BSON dates keep milliseconds).
    public static func milliseconds(_ date: Date) -> Int64 {
        clamped((date.timeIntervalSince1970 * 1_000).rounded())
    }

    /// A whole number as an `Int64`, the nearest bound when beyond them: a time stored out of
    /// range (written behind NeoSC's back) gives a hash that does not match, never a crash.
    private static func clamped(_ whole: Double) -> Int64 {
        if let exact = Int64(exactly: whole) { return exact }
        return whole < 0 ? .min : .max
    }

    private static func append(_ string: String?, to bytes: inout [UInt8]) {
        guard let string else {
            bytes.append(0)
            return
        }
        bytes.append(1)
        append(UInt32(string.utf8.count), to: &bytes)
        bytes += string.utf8
    }

    private static func append(_ value: some FixedWidthInteger, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { bytes += $0 }
    }
}
