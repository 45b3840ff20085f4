import Foundation
import Testing

@testable import Net

/// The moments the API takes (`Timestamp`): ISO-8601 with a zone, fractional seconds allowed, and
/// only moments that exist (Foundation's parser alone rolls 30 February over into March).
@Suite struct TimestampTests {
    @Test func momentsThatExistAreRead() throws {
        #expect(Timestamp.parse("2026-01-31T12:00:00Z") == Date(timeIntervalSince1970: 1_769_860_800))
        #expect(Timestamp.parse("2026-01-31T14:00:00+02:00") == Date(timeIntervalSince1970: 1_769_860_800), "an offset")
        #expect(Timestamp.parse("2026-01-31T12:00:00.500Z") == Date(timeIntervalSince1970: 1_769_860_800.5), "fractional seconds")
        #expect(Timestamp.parse("2024-02-29T00:00:00Z") != nil, "a leap day")
        #expect(Timestamp.parse("2000-02-29T23:59:59Z") != nil, "a leap day of a year divisible by 400")
        #expect(Timestamp.parse("2026-01-31T00:00:00-11:59") == Date(timeIntervalSince1970: 1_769_860_800 - 60), "11:59 behind")
        #expect(Timestamp.parse("2026-01-31T12:00:00.25+23:59") != nil && Timestamp.parse("2026-01-31T12:00:00-23:59") != nil)
        #expect(Timestamp.parse("2026-01-31T12:00:00.123456789Z") != nil, "nine digits")
        for written in ["2026-01-31T17:30:00+0530", "2026-01-31T14:00:00+02", "2026-01-31T12:00:00+00:00", "2026-01-31T12:00:00z"] {
            #expect(Timestamp.parse(written) == Date(timeIntervalSince1970: 1_769_860_800), "\(written)")
        }
    }

    @Test(arguments: [
        "2026-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z",
        "2026-01-31T24:00:00Z", "2026-01-31T08:61:00Z", "2026-01-31T08:30:60Z", "2026-01-31", "2026-01-31T12:00:00",
        "-5000-01-01T00:00:00Z", "2026-1-31T12:00:00Z", "", "now",
        // Offsets no zone has: the formatter alone reads -99:99 as about 100 hours.
        "2026-12-07T10:00:00-99:99", "2026-12-07T10:00:00+24:00", "2026-12-07T10:00:00+05:60", "2026-12-07T10:00:00.5+99:00",
        "2026-12-07T10:00:00+5:00", "2026-12-07T10:00:00+05:0a", "2026-12-07T10:00:00Zjunk",
        // A fraction of a second to the nanosecond at most: ICU died of a floating-point exception
        // on 35 digits or more (the whole server with it).
        "2026-12-07T10:00:00.Z", "2026-12-07T10:00:00.1234567890Z", "2026-12-07T10:00:00.\(String(repeating: "9", count: 35))Z",
    ])
    func momentsThatDoNotExistAreRefused(_ text: String) {
        #expect(Timestamp.parse(text) == nil, "\(text)")
    }
}
