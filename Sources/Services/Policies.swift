import Actors
import Domain
import Foundation

/// The security policies: read by anyone signed in but a demo visitor, written by administrators (whether the
/// caller may is the caller's check), and applied to requests: the sign-in, launch and API-call
/// checks every surface calls. Every change and every refusal is audited.
///
/// A class: every request's policy check takes it along, and a copy of a struct of six
/// references was six retains.
public final class Policies: Sendable {
    /// What an administrator writes: everything but the id (`POST` may name one) and the time.
    public struct Draft: Sendable {
        public var id: String?
        public var name: String
        public var description: String
        public var category: String?
        public var kind: String
        /// Nil: true for a new policy, unchanged for a replaced one.
        public var enabled: Bool?
        /// Nil: 0 for a new policy, unchanged for a replaced one.
        public var weight: Int?
        public var scope: PolicyScope
        public var settings: PolicySettings

        public init(
            id: String?, name: String, description: String, category: String?, kind: String, enabled: Bool?, weight: Int?,
            scope: PolicyScope, settings: PolicySettings
        ) {
            self.id = id
            self.name = name
            self.description = description
            self.category = category
            self.kind = kind
            self.enabled = enabled
            self.weight = weight
            self.scope = scope
            self.settings = settings
        }
    }

    private let store: any Store
    private let audit: AuditTrail
    private let clock: WallClock
    private let book: PolicyBook
    private let limits: RateLimits
    private let refusals: RefusalTally<Denial>

    /// What a `policy_denied` entry needs of a refusal.
    struct Denial: Sendable {
        var actor: AuditActor
        var address: String?
        var workspaceID: String?
        var details: [String: String]
    }

    public init(store: any Store, audit: AuditTrail, clock: WallClock, maxAge: TimeInterval?, limits: RateLimits) {
        self.refusals = RefusalTally(window: 60, capacity: 10_000, clock: clock)
        self.store = store
        self.audit = audit
        self.clock = clock
        self.book = PolicyBook(maxAge: maxAge, clock: clock) { [store] in try await store.policies() }
        self.limits = limits
    }

    public func all() async throws -> [Policy] {
        try await store.policies()
    }

    public func policy(_ id: String) async throws -> Policy {
        guard let policy = try await store.policy(id: id) else { throw DomainError.notFound("Policy not found") }
        return policy
    }

    /// Every policy, for anyone signed in but a demo visitor: a stranger who started a demo learns
    /// nothing of the organisation's rules (its networks, its organisations) from them.
    public func visible(to principal: Principal) async throws -> [Policy] {
        guard principal.role != .demoUser else { return [] }
        return try await all()
    }

    /// The policy `id`, as `visible(to:)` shows it: a demo visitor finds none.
    public func policy(_ id: String, visibleTo principal: Principal) async throws -> Policy {
        guard principal.role != .demoUser else { throw DomainError.notFound("Policy not found") }
        return try await policy(id)
    }

    // MARK: - Changes

    public func create(_ draft: Draft, by actor: AuditActor, from address: String?) async throws -> Policy {
        let id =
            try draft.id.map { id throws(DomainError) in
                guard id.utf8.count <= 64, Identifier.isWellFormed(id) else { throw .invalid("id must be 1-64 letters, digits, - or _") }
                guard !Policy.reservedIDs.contains(id) else {
                    throw .invalid("id cannot be '\(id)': the API uses that word for an action of its own")
                }
                return id
            } ?? Identifier.make("pol")
        let policy = try validated(draft, id: id, current: nil)
        try await requireScopeNamesWhatExists(policy.scope)
        // Even when the change's outcome is unknown (it may have committed).
        defer { book.invalidate() }
        try await audit.change {
            try await store.insert(policy)
            try await audit.record(
                .createPolicy, by: actor, from: address, resource: ("policy", policy.id),
                details: ["kind": policy.kindName, "enabled": String(policy.enabled)])
        }
        return policy
    }

    /// Replaces policy `id` with `draft`; what the draft leaves out (`enabled`, `weight`) is kept
    /// from the policy as it is when the replacement is written: read in the same change, so a
    /// switch made at the same moment is not undone by a stale copy.
    public func replace(_ id: String, with draft: Draft, by actor: AuditActor, from address: String?) async throws -> Policy {
        // Even when the change's outcome is unknown (it may have committed).
        defer { book.invalidate() }
        return try await audit.change {
            guard let current = try await store.policy(id: id) else { throw DomainError.notFound("Policy not found") }
            let policy = try validated(draft, id: id, current: current)
            try await requireScopeNamesWhatExists(policy.scope, besides: current.scope)
            guard try await store.replace(policy) else { throw DomainError.notFound("Policy not found") }
            try await audit.record(
                .updatePolicy, by: actor, from: address, resource: ("policy", id),
                details: ["kind": policy.kindName, "enabled": String(policy.enabled)])
            return policy
        }
    }

    /// The three defaults are switched off, not deleted: every start puts a missing one back.
    public func delete(_ id: String, by actor: AuditActor, from address: String?) async throws {
        if DefaultCatalogue.policies(at: clock.now()).contains(where: { $0.id == id }) {
            throw DomainError.conflict("A default policy cannot be deleted (it would come back at the next start); switch it off")
        }
        // Even when the change's outcome is unknown (it may have committed).
        defer { book.invalidate() }
        try await audit.change {
            guard try await store.deletePolicy(id: id) else { throw DomainError.notFound("Policy not found") }
            try await audit.record(.deletePolicy, by: actor, from: address, resource: ("policy", id))
        }
    }

    /// Sets policy `id` to `enabled`, or flips it when `enabled` is nil, atomically in the store.
    public func set(_ id: String, enabled: Bool?, by actor: AuditActor, from address: String?) async throws -> Policy {
        // Even when the change's outcome is unknown (it may have committed).
        defer { book.invalidate() }
        let policy = try await audit.change {
            // One stored before workspaces were refused where they cannot apply is not switched
            // on as it is: it would apply to nothing, while `/evaluate` said otherwise.
            if enabled != false, let stored = try await store.policy(id: id), !stored.enabled,
                let problem = stored.workspaceScopeProblem
            {
                throw DomainError.invalid(problem)
            }
            guard let policy = try await store.setEnabled(id: id, enabled, at: clock.now()) else {
                throw DomainError.notFound("Policy not found")
            }
            try await audit.record(
                .togglePolicy, by: actor, from: address, resource: ("policy", id),
                details: ["kind": policy.kindName, "enabled": String(policy.enabled)])
            return policy
        }
        return policy
    }

    private func validated(_ draft: Draft, id: String, current: Policy?) throws(DomainError) -> Policy {
        guard let kind = PolicyKind(rawValue: draft.kind) else {
            throw .invalid("kind must be one of \(PolicyKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let rule = try PolicyRule(kind: kind, settings: draft.settings)
        let name = try Validation.line(draft.name, field: "name")
        let description = try Validation.text(draft.description, field: "description", length: 0...500)
        let category = try Validation.line(draft.category ?? Self.category(of: kind), field: "category", length: 1...40)
        let weight = draft.weight ?? current?.weight ?? 0
        guard (0...100).contains(weight) else { throw .invalid("weight must be from 0 to 100") }
        for (field, values) in [("scope.organizations", draft.scope.organizations), ("scope.workspaces", draft.scope.workspaces)] {
            // Counted in Unicode scalars, as JSON Schema's maxLength counts (docs/openapi.json).
            guard values.count <= 1_000, values.allSatisfy({ (1...64).contains($0.unicodeScalars.count) }) else {
                throw .invalid("\(field) must list at most 1000 ids of 1-64 characters")
            }
        }
        let scope = PolicyScope(
            roles: Self.unique(draft.scope.roles), organizations: Self.unique(draft.scope.organizations),
            workspaces: Self.unique(draft.scope.workspaces))
        let policy = Policy(
            id: id, name: name, description: description, category: category,
            enabled: draft.enabled ?? current?.enabled ?? true, weight: weight, scope: scope,
            rule: rule, updatedAt: clock.now())
        // A replacement may keep what its policy was already (stored before this rule: of its kind,
        // scoped to some of its workspaces), to be renamed or switched off, but not switched on.
        if let problem = policy.workspaceScopeProblem {
            guard let current, current.workspaceScopeProblem != nil, current.kindName == policy.kindName,
                Set(scope.workspaces).isSubset(of: current.scope.workspaces), current.enabled || !policy.enabled
            else { throw .invalid(problem) }
        }
        return policy
    }

    /// A scope names organisations and workspaces that exist: a mistyped id would leave the
    /// policy covering nobody (an allow-list or an MFA rule then guards nothing), with a 201 for
    /// an answer. Ids the policy named already (`besides`, the policy being replaced) may stay
    /// after what they name was deleted.
    private func requireScopeNamesWhatExists(_ scope: PolicyScope, besides kept: PolicyScope? = nil) async throws {
        for id in scope.organizations where !(kept?.organizations.contains(id) ?? false) {
            guard try await store.organization(id: id) != nil else {
                throw DomainError.invalid("scope.organizations: '\(id)' names no organization")
            }
        }
        for id in scope.workspaces where !(kept?.workspaces.contains(id) ?? false) {
            guard try await store.workspace(id: id) != nil else {
                throw DomainError.invalid("scope.workspaces: '\(id)' names no workspace")
            }
        }
    }

    static func unique<T: Hashable>(_ values: [T]) -> [T] {
        var seen: Set<T> = []
        return values.filter { seen.insert($0).inserted }
    }

    static func category(of kind: PolicyKind) -> String {
        switch kind {
        case .mfaRequired: "authentication"
        case .timeWindow, .addressAllowlist: "access"
        case .rateLimit: "traffic"
        case .networkRequired: "network"
        case .sessionRecording: "monitoring"
        }
    }

    // MARK: - Decisions

    /// The policies as every request sees them: a snapshot reloaded within `NEOSC_CACHE_TTL` of a
    /// change made by another replica, at once after one made here (`PolicyBook`).
    public func current() async throws -> [Policy] {
        try await book.current().policies
    }

    /// The request `evaluate` asks about: an account's (its role and organisation) or a role's,
    /// launching `workspaceID` or not, at `at` (now when nil).
    public func request(
        stage: PolicyRequest.Stage, userID: String?, role: Role?, organizationID: String?, workspaceID: String?,
        address: String?, mfaVerified: Bool, at: Date?
    ) async throws -> PolicyRequest {
        var role = role
        var organizationID = organizationID
        var enrolled: Bool?
        var registeredPeer = false
        if let userID {
            guard let user = try await store.user(id: userID) else { throw DomainError.notFound("User not found") }
            role = user.role
            organizationID = organizationID ?? user.organizationID
            enrolled = user.canVerifySecondFactor
            registeredPeer = user.netbirdPeerID != nil
        }
        guard role != nil else { throw DomainError.invalid("Send user_id or role") }
        var requiresNetbird = false
        if let workspaceID {
            guard let workspace = try await store.workspace(id: workspaceID) else { throw DomainError.notFound("Workspace not found") }
            requiresNetbird = workspace.requiresNetbird
        }
        var request = PolicyRequest(
            stage: stage, role: role, userID: userID, organizationID: organizationID, workspaceID: workspaceID,
            workspaceRequiresNetbird: requiresNetbird, address: address, mfaVerified: mfaVerified,
            hasRegisteredPeer: registeredPeer, at: at ?? clock.now())
        request.mfaEnrolled = enrolled
        return request
    }

    /// Whether a `session_recording` policy covers `request` (a launch), without side effects.
    public func recording(_ request: PolicyRequest) async throws -> Bool {
        PolicyEvaluation.decide(try await book.current().enabled, for: request).recordingRetentionDays != nil
    }

    /// Each enabled policy's verdict on `request`, without side effects (no bucket is counted).
    public func evaluate(_ request: PolicyRequest) async throws -> [PolicyVerdict] {
        PolicyEvaluation.verdicts(try await current(), for: request)
    }

    /// Applies the policies to `request`: the first refusal throws `PolicyRefusal` (403, or 429
    /// for a rate limit) and is audited `policy_denied`. With `countingLimits` (the check every API
    /// call passes; once per request) every rate limit in scope counts the request. Answers what a
    /// launch needs to know (recording). With no policy enabled it costs a lock and a branch: the
    /// request is built (its address parsed) only when a policy is enabled.
    @discardableResult
    public func check(
        _ request: @autoclosure () -> PolicyRequest, by actor: AuditActor, countingLimits: Bool = false
    ) async throws
        -> PolicyEvaluation.Decision
    {
        let enabled = try await book.current().enabled
        guard !enabled.isEmpty else { return PolicyEvaluation.Decision() }
        let request = request()
        var decision = PolicyEvaluation.decide(enabled, for: request)
        if let refusal = decision.refusal, refusal.kind == PolicyKind.mfaRequired.rawValue, request.mfaEnrolled == nil, let userID = request.userID,
            let policy = enabled.first(where: { $0.id == refusal.policyID })
        {
            // Which remedy: the account is read only on this refusal's path, and only the refusing
            // policy is asked again. Unknown when the store does not answer: the refusal stands,
            // with the general remedy.
            var known = request
            known.mfaEnrolled = (try? await store.user(id: userID))??.canVerifySecondFactor
            decision.refusal = PolicyEvaluation.verdict(policy, known)
        }
        if let refusal = decision.refusal, case .denied = refusal.outcome {
            try await refuse(refusal, of: request, by: actor)
        }
        guard countingLimits, !decision.limits.isEmpty else { return decision }
        let counted = decision.limits
        if let (index, outcome) = limits.firstRefusal(
            of: counted.count,
            { index in
                let limit = counted[index]
                return RateLimits.Take(
                    key: .init(policy: limit.policyID, subject: limit.subject), requests: limit.requests, perSeconds: limit.perSeconds)
            })
        {
            let limit = counted[index]
            let verdict = PolicyEvaluation.verdict(enabled[limit.policy], request)
            try await deny(
                PolicyRefusal(
                    policyID: verdict.policyID, kind: PolicyKind.rateLimit.rawValue,
                    detail: "Too many requests (policy \(verdict.policyID): \(verdict.reason)); try again in \(outcome.retryAfter) s",
                    limit: .init(requests: limit.requests, perSeconds: limit.perSeconds, retryAfter: outcome.retryAfter)),
                reason: verdict.reason, request: request, by: actor, subject: limit.subject)
        }
        return decision
    }

    /// Audits and throws the refusal `verdict` (a denial) gives `request`, as `check` does its own,
    /// for a caller that judged the verdicts itself: a stream ticket, judged as the stream's
    /// continuation (`StreamContinuation`). The answer carries the policy and the remedy, and is
    /// audited `policy_denied`, folded by the minute.
    public func refuse(_ verdict: PolicyVerdict, of request: PolicyRequest, by actor: AuditActor) async throws -> Never {
        var (remedy, retryAt): (String?, Date?) = (nil, nil)
        if case .denied(let what, let when) = verdict.outcome { (remedy, retryAt) = (what, when) }
        try await deny(
            PolicyRefusal(
                policyID: verdict.policyID, kind: verdict.kind, detail: "Refused by policy \(verdict.policyID): \(verdict.reason)",
                remedy: remedy, retryAt: retryAt), reason: verdict.reason, request: request, by: actor)
    }

    /// Audits the refusal and throws it. The first refusal of a minute per (policy, caller,
    /// stage) is written at once; the rest of that minute are counted and written as one entry
    /// when it is over (`auditFoldedRefusals`): a client hammering a limit or a closed window,
    /// signed in or not, does not turn each request into a row, and no refusal goes unrecorded.
    private func deny(
        _ refusal: PolicyRefusal, reason: String, request: PolicyRequest, by actor: AuditActor, subject: String? = nil
    ) async throws -> Never {
        let caller = subject ?? request.userID ?? request.addressKey ?? "unknown"
        var details = ["policy": refusal.policyID, "kind": refusal.kind, "reason": reason, "stage": request.stage.rawValue]
        if let workspace = request.workspaceID { details["workspace_id"] = workspace }
        let denial = Denial(actor: actor, address: request.address, workspaceID: request.workspaceID, details: details)
        let group = refusal.policyID + "\n" + request.stage.rawValue
        // The account and workspace too: callers sharing an address (a limit keyed by address)
        // or one caller's launches of several workspaces are each counted as themselves.
        let key = [refusal.policyID, caller, request.userID ?? "", request.workspaceID ?? "", request.stage.rawValue]
            .joined(separator: "\n")
        if await refusals.note(key, overflowKey: group, sample: denial) {
            do {
                try await record(denial)
            } catch {
                // Not written: counted instead, for the entry written when the minute is over.
                _ = await refusals.note(key, overflowKey: group, sample: denial)
                throw error
            }
        }
        throw refusal
    }

    /// Writes the refusals counted in minutes that are over (with `everything`, all of them: at
    /// shutdown), one `policy_denied` entry per policy, caller and stage, with `repeated` (how
    /// many), `first_at` and `last_at`, and the latest refusal's reason, address and caller; past
    /// the tally's capacity, one per policy and stage with `callers: several`. Answers how many
    /// entries it wrote; what it could not write is counted again for the next call.
    @discardableResult
    public func auditFoldedRefusals(everything: Bool = false) async throws -> Int {
        let folded = await refusals.drain(everything: everything)
        for (index, item) in folded.enumerated() {
            var denial = item.sample
            denial.details["repeated"] = String(item.count)
            denial.details["first_at"] = item.first.formatted(.iso8601)
            denial.details["last_at"] = item.last.formatted(.iso8601)
            if item.severalCallers {
                denial.details["callers"] = "several"
                denial.actor = .anonymous(claimedEmail: nil)
                denial.address = nil
            }
            do {
                try await record(denial)
            } catch {
                await refusals.restore(Array(folded[index...]))
                throw error
            }
        }
        return folded.count
    }

    private func record(_ denial: Denial) async throws {
        try await audit.record(
            .policyDenied, by: denial.actor, from: denial.address, success: false,
            resource: denial.workspaceID.map { ("workspace", $0) }, details: denial.details)
    }
}
