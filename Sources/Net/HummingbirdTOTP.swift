import Domain
import Foundation
import HummingbirdOTP
import Services

/// `TOTPAlgorithm` by HummingbirdOTP: HMAC-SHA-1, six digits, 30-second steps.
public struct HummingbirdTOTP: TOTPAlgorithm {
    public init() {}

    public func code(secret: String, step: Int64) -> String {
        let start = Date(timeIntervalSince1970: Double(step * TOTPWindow.period))
        let code = String(TOTP(secret: secret).compute(date: start))
        return String(repeating: "0", count: max(0, 6 - code.count)) + code
    }

    public func provisioning(secret: String, account: String, issuer: String) -> (base32: String, uri: String) {
        let uri = TOTP(secret: secret).createAuthenticatorURL(label: "\(issuer):\(account)", issuer: issuer)
        let base32 = URLComponents(string: uri)?.queryItems?.first { $0.name == "secret" }?.value ?? ""
        return (base32, uri)
    }
}
