import Foundation

/// What a policy is asked about: one request, as NeoSC sees it.
public struct PolicyRequest: Sendable {
    public enum Stage: String, Sendable {
        case signIn = "sign_in"
        case launch
        /// Any other API call.
        case call
    }

    public var stage: Stage
    /// Nil for a caller not signed in (a rate limit by address still applies).
    public var role: Role?
    public var userID: String?
    public var organizationID: String?
    /// The workspace a launch is for.
    public var workspaceID: String?
    public var workspaceRequiresNetbird: Bool
    /// The client address, as NeoSC determined it through its trusted proxies.
    public var address: String? {
        didSet { addressBytes = address.flatMap(AddressRange.bytes(of:)) }
    }
    /// `address` parsed once per request (every allow-list compares bytes).
    public private(set) var addressBytes: [UInt8]?
    /// What a rate limit by address counts: one IPv4 address, or one IPv6 /64 (a host holds a
    /// /64, and must not get a fresh bucket per address in it).
    public var addressKey: String? {
        addressBytes.map { AddressRange.clientKey(of: $0) } ?? address
    }
    public var mfaVerified: Bool
    /// Whether the account has a second factor to verify with (nil: not known here): an
    /// `mfa_required` refusal's remedy is `enroll_mfa` without one, `verify_mfa` with one.
    public var mfaEnrolled: Bool?
    /// Whether the caller proved a NetBird peer: the names of the claims its identity carried
    /// with a value, and whether a peer is registered for it.
    public var claims: Set<String>
    public var hasRegisteredPeer: Bool
    public var at: Date
    /// A call on the way to a second factor (signing in, enrolling, `me`, signing out), which an
    /// `mfa_required` policy over every call must let through.
    public var leadsToMFA: Bool
    /// A sign-in whose password was right, of an account with a confirmed second factor: its
    /// answer is a challenge, not a session, so `mfa_required` lets it on to the code, and checks
    /// the sign-in again there (verified).
    public var secondFactorFollows = false

    public init(
        stage: Stage, role: Role?, userID: String? = nil, organizationID: String? = nil, workspaceID: String? = nil,
        workspaceRequiresNetbird: Bool = false, address: String?, mfaVerified: Bool, claims: Set<String> = [],
        hasRegisteredPeer: Bool = false, at: Date, leadsToMFA: Bool = false
    ) {
        self.leadsToMFA = leadsToMFA
        self.stage = stage
        self.role = role
        self.userID = userID
        self.organizationID = organizationID
        self.workspaceID = workspaceID
        self.workspaceRequiresNetbird = workspaceRequiresNetbird
        self.address = address
        addressBytes = address.flatMap(AddressRange.bytes(of:))
        self.mfaVerified = mfaVerified
        self.claims = claims
        self.hasRegisteredPeer = hasRegisteredPeer
        self.at = at
    }
}

/// One policy's answer to one request, and why.
public struct PolicyVerdict: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// Out of the policy's scope, or not a request it checks.
        case notApplicable
        case allowed
        /// Refused: what the caller can do about it, and when a time window next opens.
        case denied(remedy: String?, retryAt: Date?)
        /// A rate limit applies: the caller's bucket decides (`RateLimits`), named by the policy and
        /// `subject` (the user id, or the address key).
        case limited(subject: String, requests: Int, perSeconds: Int)
        /// A session launched now is recorded.
        case recorded(retentionDays: Int)
    }

    public var policyID: String
    /// The policy's `kindName`.
    public var kind: String
    public var outcome: Outcome
    public var reason: String

    public var isDenied: Bool {
        if case .denied = outcome { true } else { false }
    }
}

/// The policies' decisions, pure: the caller supplies the request and the time, and acts on the
/// verdicts (refuses, counts, records).
public enum PolicyEvaluation {
    /// Every enabled policy's verdict on `request`, in the policies' order.
    public static func verdicts(_ policies: [Policy], for request: PolicyRequest) -> [PolicyVerdict] {
        policies.filter(\.enabled).map { verdict($0, request) }
    }

    /// The first refusal among the enabled policies, and the rate limits and recordings that
    /// apply; what a request needs, without the verdicts that say nothing. Reasons are written
    /// only for the verdicts returned: an allowed request costs no text.
    public static func decide(_ policies: [Policy], for request: PolicyRequest) -> Decision {
        var decision = Decision()
        for index in policies.indices where policies[index].enabled {
            switch judge(policies[index], request, explain: false).outcome {
            case .notApplicable, .allowed: continue
            case .denied: if decision.refusal == nil { decision.refusal = verdict(policies[index], request) }
            case .limited(let subject, let requests, let perSeconds):
                // Room for every limit that may follow: one allocation, not one per growth.
                if decision.limits.isEmpty { decision.limits.reserveCapacity(policies.count - index) }
                decision.limits.append(
                    .init(policy: index, policyID: policies[index].id, subject: subject, requests: requests, perSeconds: perSeconds))
            case .recorded(let days): decision.recordingRetentionDays = max(decision.recordingRetentionDays ?? 0, days)
            }
        }
        return decision
    }

    public struct Decision: Sendable, Equatable {
        public var refusal: PolicyVerdict?
        /// The rate limits that count this request (their reasons are written only if one refuses).
        public var limits: [Limit] = []

        public struct Limit: Sendable, Equatable {
            /// Its index in the policies decided over.
            public var policy: Int
            public var policyID: String
            public var subject: String
            public var requests: Int
            public var perSeconds: Int
        }
        /// Set when a `session_recording` policy covers the launch: the longest retention.
        public var recordingRetentionDays: Int?

        public init() {}
    }

    public static func verdict(_ policy: Policy, _ request: PolicyRequest) -> PolicyVerdict {
        let (outcome, reason) = judge(policy, request, explain: true)
        return PolicyVerdict(policyID: policy.id, kind: policy.kindName, outcome: outcome, reason: reason)
    }

    /// The outcome, and with `explain` the reason (otherwise empty).
    static func judge(_ policy: Policy, _ request: PolicyRequest, explain: Bool) -> (outcome: PolicyVerdict.Outcome, reason: String) {
        func answer(_ outcome: PolicyVerdict.Outcome, _ reason: @autoclosure () -> String) -> (PolicyVerdict.Outcome, String) {
            (outcome, explain ? reason() : "")
        }
        guard policy.scope.covers(role: request.role, organizationID: request.organizationID, workspaceID: request.workspaceID)
        else { return answer(.notApplicable, "out of scope") }
        switch policy.rule {
        case .mfaRequired(let stage):
            guard stage.covers(request.stage) else { return answer(.notApplicable, "applies to \(stage.rawValue)") }
            guard request.role != nil, !request.leadsToMFA else { return answer(.notApplicable, "not signed in, or on the way to MFA") }
            if request.mfaVerified { return answer(.allowed, "the session passed MFA") }
            if request.stage == .signIn, request.secondFactorFollows {
                return answer(.allowed, "the sign-in continues with the account's second factor")
            }
            return answer(
                .denied(remedy: request.mfaEnrolled == false ? PolicyRefusal.enrollRemedy : "verify_mfa", retryAt: nil),
                "an MFA-verified session is required")
        case .timeWindow(let window, let stage):
            guard stage.covers(request.stage) else { return answer(.notApplicable, "applies to \(stage.rawValue)") }
            if window.isOpen(at: request.at) { return answer(.allowed, "within \(describe(window))") }
            let next = window.nextOpening(after: request.at)
            return answer(
                .denied(remedy: "wait", retryAt: next),
                "outside \(describe(window))" + (next.map { "; opens next at \(Self.timestamp($0))" } ?? ""))
        case .addressAllowlist(let ranges, let stage):
            guard stage.covers(request.stage) else { return answer(.notApplicable, "applies to \(stage.rawValue)") }
            guard let address = request.addressBytes, ranges.contains(where: { $0.contains(bytes: address) }) else {
                return answer(.denied(remedy: "use_allowed_network", retryAt: nil), "the client address is not in an allowed range")
            }
            return answer(.allowed, "the client address is in an allowed range")
        case .rateLimit(let requests, let perSeconds, let key):
            guard request.stage != .signIn || key == .address else { return answer(.notApplicable, "keyed by user") }
            let subject: String? = key == .user ? request.userID : request.addressKey
            guard let subject else { return answer(.notApplicable, "no \(key.rawValue) to count") }
            return answer(
                .limited(subject: subject, requests: requests, perSeconds: perSeconds),
                "\(requests) requests per \(perSeconds) s per \(key.rawValue)")
        case .networkRequired(let claim):
            guard request.stage == .launch, request.workspaceRequiresNetbird else {
                return answer(.notApplicable, "applies to launches of workspaces that require NetBird")
            }
            if request.claims.contains(claim) { return answer(.allowed, "the identity carries \(claim)") }
            if request.hasRegisteredPeer { return answer(.allowed, "the user's registered NetBird peer is connected") }
            return answer(.denied(remedy: "connect_netbird", retryAt: nil), "a NetBird peer is required for this workspace")
        case .sessionRecording(let days):
            guard request.stage == .launch else { return answer(.notApplicable, "applies to launches") }
            return answer(.recorded(retentionDays: days), "the session is recorded (kept \(days) days)")
        case .unreadable(_, let problem):
            // Fail closed within the scope: a policy nobody can read must not quietly stop applying.
            return answer(.denied(remedy: nil, retryAt: nil), "its stored settings no longer read (\(problem)); an administrator must fix it")
        }
    }

    static func describe(_ window: TimeWindow) -> String {
        let days = TimeWindow.Day.allCases.filter(window.days.contains).map(\.rawValue).joined(separator: ",")
        return "\(days) \(TimeWindow.text(minutes: window.start))–\(TimeWindow.text(minutes: window.end)) \(window.zoneName)"
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
