import Foundation

/// What a caller presents as its second factor, read from the text it sent: the six digits its
/// authenticator shows, or one of its recovery codes (16 characters of the base32 alphabet, in
/// any case, with or without the dashes and spaces they are shown with).
public enum SecondFactorCode: Sendable, Equatable {
    case totp(String)
    /// Upper-case, without separators: the form whose digest is stored.
    case recovery(String)

    public static let recoveryCodeLength = 16
    static let recoveryAlphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")

    public init(_ text: String) throws(DomainError) {
        guard text.utf8.count <= 64 else { throw .invalid("code is too long") }
        let compact = text.filter { $0 != " " && $0 != "-" }
        if compact.count == TOTPWindow.digits, compact.allSatisfy({ $0.isASCII && $0.isNumber }) {
            self = .totp(compact)
        } else if compact.count == Self.recoveryCodeLength,
            case let upper = compact.uppercased(), upper.allSatisfy(Self.recoveryAlphabet.contains)
        {
            self = .recovery(upper)
        } else {
            throw .invalid("code must be the 6 digits the authenticator shows, or a recovery code")
        }
    }
}

/// The time steps a TOTP code is accepted in: the current 30-second step and one either side,
/// for clocks that drift and codes typed as they turn (RFC 6238 §5.2).
public enum TOTPWindow {
    public static let period: Int64 = 30
    public static let digits = 6

    public static func step(at date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 / Double(period)).rounded(.down))
    }

    /// When `step` ends.
    public static func end(of step: Int64) -> Date {
        Date(timeIntervalSince1970: Double((step + 1) * period))
    }

    /// The step among `now`'s and its two neighbours whose code is `code`, or nil. Every
    /// candidate is computed and compared in constant time, whichever matches.
    public static func matchingStep(of code: String, at now: Date, codeOf: (Int64) -> String) -> Int64? {
        let current = step(at: now)
        var matched: Int64?
        for candidate in [current, current - 1, current + 1] {
            if ConstantTime.equal(codeOf(candidate), code), matched == nil { matched = candidate }
        }
        return matched
    }
}
