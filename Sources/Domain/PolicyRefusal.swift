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

    public var policyID: String
    public var kind: PolicyKind
    public var detail: String
    public var remedy: String?
    /// When a time window opens next.
    public var retryAt: Date?
    public var limit: Limit?

    public init(policyID: String, kind: PolicyKind, detail: String, remedy: String? = nil, retryAt: Date? = nil, limit: Limit? = nil) {
        self.policyID = policyID
        self.kind = kind
        self.detail = detail
        self.remedy = remedy
        self.retryAt = retryAt
        self.limit = limit
    }
}
