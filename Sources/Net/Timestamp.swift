import Foundation

/// A moment as the API takes one, in a query parameter or a request body: ISO-8601 with its zone
/// (`2026-01-31T12:00:00Z`, fractional seconds allowed), naming a moment that exists.
/// `ISO8601DateFormatter` alone takes 2026-02-31 for 3 March, and 24:00 for the next day.
enum Timestamp {
    static let example = "2026-01-31T12:00:00Z"

    static func parse(_ text: String) -> Date? {
        guard namesARealMoment(text) else { return nil }
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }

    /// Whether the calendar fields `text` starts with (`YYYY-MM-DDTHH:MM:SS`) name a moment that
    /// exists, and its offset from UTC after them (and after any fraction of a second) is one:
    /// `Z`, or `±HH:MM` (`±HHMM`, `±HH`) within ±23:59. The formatter takes `-99:99` too. A
    /// fraction of a second has 1 to 9 digits.
    static func namesARealMoment(_ text: String) -> Bool {
        let utf8 = Array(text.utf8)
        guard utf8.count >= 20, hasValidOffset(utf8[19...]) else { return false }
        let bytes = utf8[0..<19]
        func number(_ range: Range<Int>) -> Int? {
            bytes[range].allSatisfy { (0x30...0x39).contains($0) } ? bytes[range].reduce(0) { $0 * 10 + Int($1 - 0x30) } : nil
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
            let minute = number(14..<16), let second = number(17..<19), (1...12).contains(month)
        else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return (1...days).contains(day) && hour < 24 && minute < 60 && second < 60
    }

    /// Whether `rest`, what follows the seconds, is an optional fraction and then a valid offset.
    private static func hasValidOffset(_ rest: ArraySlice<UInt8>) -> Bool {
        func isDigit(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) }
        var zone = rest
        if zone.first == UInt8(ascii: ".") {
            // 1 to 9 digits (to the nanosecond): ICU, under the formatter, dies of a floating-point
            // exception on 35 or more, taking the server with it.
            let fraction = zone.dropFirst().prefix(while: isDigit)
            guard (1...9).contains(fraction.count) else { return false }
            zone = zone.dropFirst(1 + fraction.count)
        }
        if zone.elementsEqual("Z".utf8) || zone.elementsEqual("z".utf8) { return true }
        guard let sign = zone.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") else { return false }
        let digits = Array(zone.dropFirst().filter { $0 != UInt8(ascii: ":") })
        let colons = zone.count - 1 - digits.count
        // `±HH`, `±HHMM` or `±HH:MM`, as ISO 8601 (and the formatter) has them.
        guard digits.count == 2 || digits.count == 4, digits.allSatisfy(isDigit),
            colons == 0 || (colons == 1 && digits.count == 4 && zone[zone.startIndex + 3] == UInt8(ascii: ":"))
        else { return false }
        let hours = Int(digits[0] - 0x30) * 10 + Int(digits[1] - 0x30)
        let minutes = digits.count == 4 ? Int(digits[2] - 0x30) * 10 + Int(digits[3] - 0x30) : 0
        return hours < 24 && minutes < 60
    }
}
