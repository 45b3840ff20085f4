import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Synchronization

/// Gives every request an id: the caller's `X-Request-ID` when it is a sane token (1–128 of
/// `A-Z a-z 0-9 . _ -`), else a new one (`RequestIDs`). It is on every log line of the request
/// (`request_id`) and echoed in the response, so a client's report can be matched to the server's
/// logs (`PortalEdgeMiddleware`).
enum RequestIDHeader {
    /// The id the request came with, when acceptable, else a new one.
    static func id(for request: Request) -> String {
        request.headers[.xRequestID].flatMap(Self.accepted) ?? RequestIDs.next()
    }

    static func accepted(_ candidate: String) -> String? {
        guard (1...128).contains(candidate.utf8.count),
            candidate.utf8.allSatisfy({ byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                    || byte == 0x2D || byte == 0x2E || byte == 0x5F
            })
        else { return nil }
        return candidate
    }
}

/// New request ids, shaped like UUIDs (`8f14e45f-ceea-467f-a0e6-000000000001`): a random half
/// drawn once per process, then a counter. Unique within the process by the counter and across
/// processes by the 64 random bits, and made without a system call or a formatter per request
/// (a random UUID each time cost about 2 % of the floor's CPU, issue #16). Not secret: a client
/// may choose its own.
package enum RequestIDs {
    private static let prefix = UInt64.random(in: .min ... .max)
    private static let counter = Atomic<UInt64>(0)

    package static func next() -> String {
        let count = counter.add(1, ordering: .relaxed).newValue
        return format(prefix, count)
    }

    /// `high` and `low` as 32 lower-case hex digits in the 8-4-4-4-12 layout.
    package static func format(_ high: UInt64, _ low: UInt64) -> String {
        String(unsafeUninitializedCapacity: 36) { buffer in
            let digits: StaticString = "0123456789abcdef"
            var index = 0
            func put(_ value: UInt64, nibbles: Int) {
                for shift in stride(from: (nibbles - 1) * 4, through: 0, by: -4) {
                    buffer[index] = digits.utf8Start[Int((value >> UInt64(shift)) & 0xF)]
                    index += 1
                }
            }
            func dash() {
                buffer[index] = UInt8(ascii: "-")
                index += 1
            }
            put(high >> 32, nibbles: 8)
            dash()
            put(high >> 16, nibbles: 4)
            dash()
            put(high, nibbles: 4)
            dash()
            put(low >> 48, nibbles: 4)
            dash()
            put(low, nibbles: 12)
            return index
        }
    }
}

extension HTTPField.Name {
    static let xRequestID = Self("X-Request-ID")!
}
