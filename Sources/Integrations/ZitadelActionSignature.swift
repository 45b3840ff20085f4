import Crypto
import Domain
import Foundation
import Services

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
                // SHA-256 is 32 bytes: anything much longer is not a signature.
                if parts[1].utf8.count <= 128, let bytes = Hex.decode(parts[1]) { signatures.append(bytes) }
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
}
