import Foundation

/// TOTP (RFC 6238) with the parameters every authenticator app assumes: HMAC-SHA-1, six digits,
/// 30-second steps. The implementation is a maintained library's (HummingbirdOTP, wired in Net).
public protocol TOTPAlgorithm: Sendable {
    /// The code of `secret` for time step `step` (`TOTPWindow`): six digits, leading zeros kept.
    func code(secret: String, step: Int64) -> String
    /// The key in base32, for typing into an authenticator, and the `otpauth://` URI that an
    /// authenticator reads from a QR code.
    func provisioning(secret: String, account: String, issuer: String) -> (base32: String, uri: String)
}
