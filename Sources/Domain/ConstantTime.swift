/// Comparisons of secrets (nonces, `state` values) whose time does not depend on where the two
/// first differ, so a caller cannot guess one byte at a time.
public enum ConstantTime {
    public static func equal(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }
}
