import Hummingbird
import Testing

@testable import Net

@Suite("Bounded body")
struct BoundedBodyTests {
    @Test("a declared Content-Length is over the limit by its value, however many digits or leading zeros; 0 and none are not")
    func declaredLengthAgainstTheLimit() {
        let limit = 1 << 20
        let cases: [(declared: String, exceeds: Bool)] = [
            ("0", false), ("000", false), ("", false), ("1048576", false), ("0001048576", false), ("1048577", true),
            ("000000000000000000000001048577", true), ("999999999999999999", true), ("9223372036854775807", true),
            ("9223372036854775808", true), ("18446744073709551615", true), ("12a", false),
        ]
        for (declared, exceeds) in cases {
            #expect(DeclaredLength.exceeds(declared, limit) == exceeds, "\(declared.debugDescription)")
        }
    }
}
