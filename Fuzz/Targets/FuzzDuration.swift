// Target `duration`: `TimeSpan.seconds(parsing:)`, how every duration in the configuration
// (NEOSC_TOKEN_TTL, MONGO_TIMEOUT, NEOSC_DEMO_TTL, ...) and a demo token's `neosc:max_duration`
// claim are read.
//
// Input: the text, as an environment variable's value (up to a NUL: a C string holds no more).
// Properties, for every input:
//   - a parsed value is > 0, finite, a whole number of seconds, at most 999,999,999 days, and
//     its milliseconds fit the Int64 the server converts it to (Configuration, ServeCommand);
//   - the text is ASCII digits and at most one unit (s, m, h or d, any case) once trimmed, and
//     the digits times the unit's seconds are the value;
//   - it round-trips its unit: the number written back with the same unit parses to the same
//     value, and so does the trimmed text in upper and lower case and with blanks around it;
//   - text that does not parse still does not parse with blanks around it.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDuration(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let raw = environmentValue(UnsafeRawBufferPointer(start: start, count: count))
    let parsed = TimeSpan.seconds(parsing: raw)
    require(TimeSpan.seconds(parsing: " \t" + raw + "\t ") == parsed, "blanks around \(quoted(raw)) change its value")
    guard let seconds = parsed else { return 0 }

    require(seconds.isFinite && seconds > 0, "\(quoted(raw)) parsed to \(seconds)")
    require(seconds == seconds.rounded(), "\(quoted(raw)) parsed to a fraction: \(seconds)")
    require(seconds <= 999_999_999 * 86_400, "\(quoted(raw)) parsed beyond 999,999,999 days: \(seconds)")
    require(seconds * 1_000 < 9.2e18, "\(quoted(raw)): \(seconds) s overflows Int64 milliseconds")

    let trimmed = raw.trimmingCharacters(in: .whitespaces)
    let units: [Character: Double] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
    let last = Character(trimmed.last!.lowercased())
    let unit = units[last]
    let digits = unit == nil ? Substring(trimmed) : trimmed.dropLast()
    require(
        !digits.isEmpty && digits.utf8.allSatisfy { (0x30...0x39).contains($0) },
        "\(quoted(raw)) parsed, but \(quoted(String(digits))) is not ASCII digits")
    require(Double(String(digits))! * (unit ?? 1) == seconds, "\(quoted(raw)): digits times unit is not \(seconds)")

    let number = Int(seconds / (unit ?? 1))
    let written = "\(number)" + (unit == nil ? "" : String(last))
    require(TimeSpan.seconds(parsing: written) == seconds, "\(quoted(raw)) = \(seconds) s, but \(written) is not")
    require(TimeSpan.seconds(parsing: trimmed.uppercased()) == seconds, "upper-case \(quoted(raw)) differs")
    require(TimeSpan.seconds(parsing: trimmed.lowercased()) == seconds, "lower-case \(quoted(raw)) differs")
    return 0
}
