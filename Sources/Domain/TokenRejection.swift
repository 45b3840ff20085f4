/// Why a signed token from an identity provider or Pomerium was refused. The raw value is what
/// the audit trail and the metrics record; `detail` is what the caller is told.
public enum TokenRejection: String, Error, Sendable, CaseIterable {
    case malformed = "malformed_token"
    /// `none`, an HMAC algorithm, or anything else the key set cannot have signed.
    case unsupportedAlgorithm = "unsupported_algorithm"
    case unknownKey = "unknown_kid"
    case badSignature = "bad_signature"
    case expired = "expired"
    /// No `exp`: a token that never expires is not accepted.
    case missingExpiry = "missing_expiry"
    /// `exp` further from `iat` (or from now, without `iat`) than NeoSC accepts.
    case lifetimeTooLong = "lifetime_too_long"
    case notYetValid = "not_yet_valid"
    case wrongIssuer = "wrong_issuer"
    case wrongAudience = "wrong_audience"
    case missingNonce = "missing_nonce"
    case nonceMismatch = "nonce_mismatch"
    case replayedNonce = "replayed_nonce"
    case missingSubject = "missing_subject"
    case demoExpired = "demo_expired"

    public var detail: String {
        switch self {
        case .malformed: "Token is malformed"
        case .unsupportedAlgorithm: "Token algorithm is not accepted"
        case .unknownKey: "Token is signed with an unknown key"
        case .badSignature: "Token signature is invalid"
        case .expired: "Token has expired"
        case .missingExpiry: "Token carries no expiry"
        case .lifetimeTooLong: "Token lives longer than NeoSC accepts"
        case .notYetValid: "Token is not valid yet"
        case .wrongIssuer: "Token was issued by an untrusted issuer"
        case .wrongAudience: "Token is meant for another audience"
        case .missingNonce: "Token carries no nonce"
        case .nonceMismatch: "Token nonce does not match this sign-in"
        case .replayedNonce: "Token has already been used"
        case .missingSubject: "Token names no subject"
        case .demoExpired: "Demo session has expired"
        }
    }

    /// Every rejection is a 401: the caller did not prove who it is.
    public var domainError: DomainError { .unauthenticated(detail) }
}
