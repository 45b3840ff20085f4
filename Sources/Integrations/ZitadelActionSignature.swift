import Crypto
import Foundation

/// The `ZITADEL-Signature` header Zitadel puts on every Actions v2 call to a target:
/// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` under the target's signing key
/// (zitadel/zitadel `pkg/actions/signing.go`), one `v1` per key while a key is being rotated.
public enum ZitadelActionSignature {
    public static let headerName = "ZITADEL-Signature"
    /// Zitadel's own default tolerance for the timestamp.
    public static let tolerance: TimeInterval = 300

    /// True when `header` carries a timestamp within `tolerance` of `now` (either way) and a
    /// `v1` signature of `body` under `key`.
    public static func isValid(_ header: String?, body: [UInt8], key: String, now: Date) -> Bool {
        guard let header, !header.isEmpty, header.utf8.count <= 4_096 else { return false }
        var timestamp: Int64?
        var signatures: [[UInt8]] = []
        for pair in header.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = pair.split(separator: "=", omittingEmptySubsequences: false)
            guard parts.count == 2 else { return false }
            switch parts[0] {
            case "t":
                guard let seconds = Int64(parts[1]) else { return false }
                timestamp = seconds
            case "v1":
                if let bytes = hexBytes(parts[1]) { signatures.append(bytes) }
            default:
                continue
            }
        }
        guard let timestamp, !signatures.isEmpty,
            abs(now.timeIntervalSince1970 - Double(timestamp)) <= tolerance
        else { return false }
        let signed = Array("\(timestamp).".utf8) + body
        let symmetricKey = SymmetricKey(data: Array(key.utf8))
        return signatures.contains { HMAC<SHA256>.isValidAuthenticationCode($0, authenticating: signed, using: symmetricKey) }
    }

    /// The header Zitadel would send with `body` at `time` (for tests and a recording peer).
    public static func header(for body: [UInt8], key: String, at time: Date) -> String {
        let seconds = Int64(time.timeIntervalSince1970.rounded(.down))
        let code = HMAC<SHA256>.authenticationCode(
            for: Array("\(seconds).".utf8) + body, using: SymmetricKey(data: Array(key.utf8)))
        return "t=\(seconds),v1=" + code.map { String(format: "%02x", $0) }.joined()
    }

    private static func hexBytes(_ text: Substring) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count.isMultiple(of: 2), digits.count <= 128 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case 0x30...0x39: digit - 0x30
        case 0x61...0x66: digit - 0x61 + 10
        case 0x41...0x46: digit - 0x41 + 10
        default: nil
        }
    }
}
