import Foundation

/// A request a policy refused: 403 with the policy, the reason and what the caller can do about
/// it; a rate limit's refusal is a 429 with its figures.
public struct PolicyRefusal: Error, Sendable, Equatable {
    public struct Limit: Sendable, Equatable {
        public var requests: Int
        public var perSeconds: Int
        /// Whole seconds until one more request is allowed.
        public var retryAfter: Int

        public init(requests: Int, perSeconds: Int, retryAfter: Int) {
            self.requests = requests
            self.perSeconds = perSeconds
            self.retryAfter = retryAfter
        }
    }

    /// What a sign-in refused for want of a second factor gets, when the account can enrol one:
    /// a short-lived, single-use right to enrol it and so complete the sign-in, and nothing else.
    public struct EnrollmentChallenge: Sendable, Equatable {
        public var token: String
        public var expiresAt: Date

        public init(token: String, expiresAt: Date) {
            self.token = token
            self.expiresAt = expiresAt
        }
    }

    public var policyID: String
    /// The refusing policy's `kindName`.
    public var kind: String
    public var detail: String
    public var remedy: String?
    /// When a time window opens next.
    public var retryAt: Date?
    public var limit: Limit?
    public var enrollment: EnrollmentChallenge?

    /// An `mfa_required` refusal of an account without a second factor: enrolling one is the remedy.
    public var asksForEnrollment: Bool { kind == PolicyKind.mfaRequired.rawValue && remedy == Self.enrollRemedy }

    public static let enrollRemedy = "enroll_mfa"

    public init(policyID: String, kind: String, detail: String, remedy: String? = nil, retryAt: Date? = nil, limit: Limit? = nil) {
        self.policyID = policyID
        self.kind = kind
        self.detail = detail
        self.remedy = remedy
        self.retryAt = retryAt
        self.limit = limit
    }
}
