import Actors
import Domain
import Foundation
import Logging

/// Workspace streams (issue #17): the single-use tickets that open them, the checks made before
/// NeoSC dials a workspace's upstream, a streamed session kept alive while its user works in it,
/// and the audit trail of every stream, opened or refused, and how it closed. The relaying itself
/// is the HTTP layer's; when the session ends, `LiveStreams` tells the relay to cut.
public struct WorkspaceStreams: Sendable {
    /// A ticket for one stream of one session.
    public struct Ticket: Sendable {
        public let ticket: String
        public let sessionID: String
        public let expiresAt: Date
    }

    /// A ticket redeemed and every check passed: what `open` needs, and nothing held yet (the
    /// handshake may still fail; nothing is registered or recorded until the stream runs).
    public struct Clearance: Sendable {
        public let session: WorkspaceSession
        public let user: User
        public let upstream: StreamUpstream
        public let address: String
    }

    /// A stream cleared to open: its session, the upstream to dial, and where it hears of its cut.
    public struct Admission: Sendable {
        public let session: WorkspaceSession
        public let user: User
        public let upstream: StreamUpstream
        public let opened: LiveStreams.Opened
        /// The client address the ticket was issued to and presented from.
        public let address: String
        /// Where what the desktop sends is recorded, when a `session_recording` policy covered the launch.
        public let recording: (any RecordingSink)?
    }

    /// Why a stream was not opened, as the viewer is told (a WebSocket close reason) and the audit
    /// trail records it (`audit(_:)`, once the viewer has been told: the close never waits for
    /// the store).
    public struct Refusal: Error, Sendable {
        public let reason: String
        public let detail: String
        let sessionID: String
        let address: String
        /// Who the entry names; nil: nothing to record (the store did not answer).
        let actor: AuditActor?
    }

    /// How a stream ended, for its `stream_closed` entry.
    public struct Closing: Sendable {
        /// `session_ended:<why>`, `browser_closed`, `upstream_closed`, `shutdown`, …
        public let reason: String
        public let bytesFromBrowser: Int
        public let bytesToBrowser: Int

        public init(reason: String, bytesFromBrowser: Int, bytesToBrowser: Int) {
            self.reason = reason
            self.bytesFromBrowser = bytesFromBrowser
            self.bytesToBrowser = bytesToBrowser
        }
    }

    /// The upstreams NeoSC may dial (`NEOSC_STREAM_UPSTREAMS`); empty: streaming is off.
    public let upstreams: StreamUpstreamAllowlist
    /// How long a ticket stays good.
    public let ticketLifetime: TimeInterval
    /// Input from the browser moves the session's `last_seen_at` at most this often.
    public let activityInterval: Duration
    private let store: any Store
    private let live: LiveStreams
    private let audit: AuditTrail
    private let clock: WallClock
    private let logger: Logger
    /// The policies a running stream is judged on again (`StreamContinuation`).
    private let policies: Policies
    /// Recordings of streams whose session is recorded; nil: none can be made, and such streams are refused.
    private let recordings: Recordings?
    /// Refused streams, folded per reason and client a minute: a prober's flood of bad tickets
    /// writes two entries a minute, not one per attempt.
    private let refusals: RefusalTally<Refusal>

    public init(
        store: any Store, live: LiveStreams, audit: AuditTrail, clock: WallClock,
        upstreams: StreamUpstreamAllowlist, policies: Policies, recordings: Recordings?, ticketLifetime: TimeInterval = 10,
        activityInterval: Duration = .seconds(10), logger: Logger
    ) {
        self.recordings = recordings
        self.refusals = RefusalTally(clock: clock)
        self.logger = logger
        self.policies = policies
        self.store = store
        self.live = live
        self.audit = audit
        self.clock = clock
        self.upstreams = upstreams
        self.ticketLifetime = ticketLifetime
        self.activityInterval = activityInterval
    }

    public var isEnabled: Bool { !upstreams.isEmpty }

    /// A ticket for `principal`'s own active session `sessionID`, usable once, from `address`,
    /// within `ticketLifetime`. Only the owner gets one (an administrator stops a session, but
    /// does not watch its desktop); someone else's session is 404, as everywhere.
    public func ticket(for sessionID: String, by principal: Principal, from address: String) async throws -> Ticket {
        guard let session = try await store.session(id: sessionID), session.userID == principal.userID else {
            throw DomainError.notFound("Session not found")
        }
        // After the owner is known: someone else's session is 404 whether streaming is on or not.
        guard isEnabled else {
            throw DomainError.conflict("Streaming is off on this server (NEOSC_STREAM_UPSTREAMS is not set)")
        }
        guard session.status == .active else {
            throw DomainError.conflict("Session is not active (it is \(session.status.rawValue))")
        }
        guard let workspace = try await store.workspace(id: session.workspaceID), workspace.streamUpstream != nil else {
            throw DomainError.conflict("This session's workspace has no stream through NeoSC")
        }
        let now = clock.now()
        let subject = LiveStreams.Subject(
            sessionID: session.id, userID: principal.userID, role: principal.role, organizationID: principal.organizationID,
            workspaceID: session.workspaceID, address: address, mfaVerified: session.mfaVerified)
        let request = Self.policyRequest(for: subject, at: now)
        if let refusal = StreamContinuation.refusal(among: try await policies.evaluate(request)) {
            // As a launch's refusal: the policy and its remedy in the answer, `policy_denied` in the trail.
            try await policies.refuse(refusal, of: request, by: .principal(principal))
        }
        let expiresAt = now.addingTimeInterval(ticketLifetime)
        let ticket = Base64URL.random(byteCount: Self.ticketBytes)
        try await store.insert(
            StreamTicket(
                digest: BearerCredential.digest(ticket), sessionID: session.id, userID: principal.userID, address: address,
                issuedAt: now, expiresAt: expiresAt),
            keeping: StreamTicket.maximumPerSession)
        return Ticket(ticket: ticket, sessionID: session.id, expiresAt: expiresAt)
    }

    /// Uses `ticket` to clear a stream of session `sessionID` from `address`: the ticket must be
    /// this session's, unused, unexpired and presented from the address it was issued to; the
    /// session still active and its owner's; the account enabled; the workspace's upstream one
    /// the operator allows. Holds nothing but the ticket, which is used up whatever the answer.
    /// A refusal is for the caller to audit (`audit(_:)`).
    public func admit(ticket: String, sessionID: String, from address: String) async -> Result<Clearance, Refusal> {
        do {
            // Kept by digest, as bearer tokens are; one that is not 43 base64url characters was
            // never issued, and costs no store access.
            let taken =
                Self.isWellFormed(ticket) ? try await store.takeStreamTicket(digest: BearerCredential.digest(ticket)) : nil
            let grant: StreamTicket
            switch StreamTicket.judge(taken, presentedFor: sessionID, from: address, at: clock.now()) {
            case .success(let granted):
                grant = granted
            case .failure(let refusal):
                return .failure(
                    Refusal(
                        reason: refusal.rawValue, detail: Self.detail(of: refusal), sessionID: sessionID, address: address,
                        actor: .anonymous(claimedEmail: nil)))
            }
            guard let session = try await store.session(id: grant.sessionID), session.userID == grant.userID,
                let user = try await store.user(id: grant.userID)
            else {
                return .failure(
                    Refusal(
                        reason: "session_not_found", detail: "The session no longer exists", sessionID: sessionID, address: address,
                        actor: .system(onAccount: grant.userID, email: nil)))
            }
            guard session.status == .active, !user.disabled else {
                let why = user.disabled ? "user_disabled" : (session.endReason ?? session.status.rawValue)
                return .failure(
                    Refusal(
                        reason: "session_ended", detail: "The session has ended (\(why))", sessionID: sessionID, address: address,
                        actor: .account(user)))
            }
            guard let workspace = try await store.workspace(id: session.workspaceID), let text = workspace.streamUpstream,
                let upstream = try? StreamUpstream(text), upstreams.permits(upstream)
            else {
                return .failure(
                    Refusal(
                        reason: "no_upstream", detail: "The workspace has no stream this server may open", sessionID: sessionID,
                        address: address, actor: .account(user)))
            }
            return .success(Clearance(session: session, user: user, upstream: upstream, address: address))
        } catch {
            return .failure(
                Refusal(
                    reason: "store_unavailable", detail: "The store did not answer; try again", sessionID: sessionID, address: address,
                    actor: nil))
        }
    }

    /// The stream of `clearance` runs (its WebSocket is open): registered, so that its session's
    /// end cuts it; the session read again (an end that landed since `admit` is seen here); and,
    /// for a recorded session, its recording started (no recording, no stream). At most
    /// `LiveStreams.maximumPerSession` streams per session.
    public func open(_ clearance: Clearance) async -> Result<Admission, Refusal> {
        let (session, user, address) = (clearance.session, clearance.user, clearance.address)
        let refusal = { (reason: String, detail: String) in
            Refusal(reason: reason, detail: detail, sessionID: session.id, address: address, actor: .account(user))
        }
        let subject = LiveStreams.Subject(
            sessionID: session.id, userID: user.id, role: user.role, organizationID: user.organizationID,
            workspaceID: session.workspaceID, address: address, mfaVerified: session.mfaVerified)
        guard let opened = await live.open(subject) else {
            return .failure(refusal("too_many_streams", "This session already has \(LiveStreams.maximumPerSession) streams open"))
        }
        do {
            guard try await store.session(id: session.id)?.status == .active else {
                await live.closed(sessionID: session.id, number: opened.number)
                return .failure(refusal("session_ended", "The session has ended"))
            }
        } catch {
            await live.closed(sessionID: session.id, number: opened.number)
            return .failure(refusal("store_unavailable", "The store did not answer; try again"))
        }
        var recording: (any RecordingSink)?
        if session.recording {
            do {
                guard let recordings else { throw DomainError.unavailable("no recording archive") }
                recording = try await recordings.start(for: session, by: user, from: address)
            } catch {
                logger.error("Workspace stream: recording could not start", metadata: ["error": "\(error)"])
                await live.closed(sessionID: session.id, number: opened.number)
                return .failure(refusal("recording_unavailable", "This session must be recorded, and the recording could not start"))
            }
        }
        return .success(
            Admission(session: session, user: user, upstream: clearance.upstream, opened: opened, address: address, recording: recording))
    }

    /// Cuts the streams whose session has ended where this process did not hear of it (another
    /// replica on MongoDB, `neosc admin` on either store), and those a policy now refuses
    /// (`StreamContinuation`: a time window that closed, an address or MFA rule added). Run about
    /// once a second: one read of the store per stream. Answers how many sessions'
    /// streams it cut.
    @discardableResult
    public func review() async -> Int {
        var cuts: [String: String] = [:]
        // Each account's role and organisation as stored now, read once a review.
        var accounts: [String: (role: Role, organizationID: String?)] = [:]
        let now = clock.now()
        for subject in await live.subjects where cuts[subject.sessionID] == nil {
            do {
                // Judged with the role the account has now and in the organisation it is in now:
                // a new role, or a move to another organisation, takes effect on its running
                // streams too, as it does on its next ticket.
                let account: (role: Role, organizationID: String?)
                if let known = accounts[subject.userID] {
                    account = known
                } else {
                    // An account gone is judged as it was when its stream opened.
                    account =
                        try await store.user(id: subject.userID).map { ($0.role, $0.organizationID) }
                        ?? (subject.role, subject.organizationID)
                    accounts[subject.userID] = account
                }
                // Every stream is judged on its own address; a refusal cuts its session's streams.
                if let refusal = try await refusal(of: subject.of(role: account.role, in: account.organizationID), at: now) {
                    cuts[subject.sessionID] = StreamContinuation.policyCutPrefix + refusal.policyID
                    continue
                }
                guard let session = try await store.session(id: subject.sessionID) else {
                    cuts[subject.sessionID] = "session_not_found"
                    continue
                }
                if session.status != .active { cuts[subject.sessionID] = session.endReason ?? session.status.rawValue }
            } catch {
                logger.warning("Workspace streams: review failed; will retry", metadata: ["error": "\(error)"])
                return 0
            }
        }
        if !cuts.isEmpty { await live.cut(cuts.map { ($0.key, $0.value) }) }
        return cuts.count
    }

    /// The refusal that ends (or forbids) `subject`'s stream under the policies now, if any.
    private func refusal(of subject: LiveStreams.Subject, at now: Date) async throws -> PolicyVerdict? {
        StreamContinuation.refusal(among: try await policies.evaluate(Self.policyRequest(for: subject, at: now)))
    }

    /// `subject`'s stream as the policies judge it: as a launch of its session's workspace.
    private static func policyRequest(for subject: LiveStreams.Subject, at now: Date) -> PolicyRequest {
        PolicyRequest(
            stage: .launch, role: subject.role, userID: subject.userID, organizationID: subject.organizationID,
            workspaceID: subject.workspaceID, address: subject.address, mfaVerified: subject.mfaVerified, at: now)
    }

    /// The upstream answered: the stream is open (audited).
    public func opened(_ admission: Admission) async {
        await recorded(
            .streamOpened, by: .account(admission.user), from: admission.address, resource: ("session", admission.session.id),
            details: [
                "workspace_id": admission.session.workspaceID, "upstream": admission.upstream.shown,
            ])
    }

    /// The upstream could not be reached (refused, unreachable, or silent): the stream is not
    /// opened (audited, failed, with `reason`).
    public func upstreamFailed(_ admission: Admission, reason: String) async {
        await live.closed(sessionID: admission.session.id, number: admission.opened.number)
        if let sink = admission.recording { await recordings?.finish(sink, by: admission.user, from: admission.address) }
        await recorded(
            .streamOpened, by: .account(admission.user), from: admission.address, success: false,
            resource: ("session", admission.session.id),
            details: [
                "workspace_id": admission.session.workspaceID, "upstream": admission.upstream.shown, "reason": reason,
            ])
    }

    /// Input arrived from the browser: the session is in use, as a heartbeat would say.
    public func active(_ admission: Admission) async {
        _ = try? await store.touch(id: admission.session.id, at: clock.now())
    }

    /// The stream has closed (audited with why and the bytes each way).
    public func closed(_ admission: Admission, _ closing: Closing) async {
        await live.closed(sessionID: admission.session.id, number: admission.opened.number)
        if let sink = admission.recording { await recordings?.finish(sink, by: admission.user, from: admission.address) }
        await recorded(
            .streamClosed, by: .account(admission.user), from: admission.address, resource: ("session", admission.session.id),
            details: [
                "workspace_id": admission.session.workspaceID, "reason": closing.reason,
                "bytes_from_browser": String(closing.bytesFromBrowser), "bytes_to_browser": String(closing.bytesToBrowser),
            ])
    }

    /// Writes an entry; a stream has no caller to fail, so an entry the store refused is logged
    /// (the store being down is also what `/health` reports).
    private func recorded(
        _ action: AuditAction, by actor: AuditActor, from address: String?, success: Bool = true,
        resource: (type: String, id: String), details: [String: String]
    ) async {
        do {
            try await audit.record(action, by: actor, from: address, success: success, resource: resource, details: details)
        } catch {
            logger.error(
                "Workspace stream: audit entry not written",
                metadata: ["action": "\(action)", "session_id": "\(resource.id)", "error": "\(error)"])
        }
    }

    /// Records `refusal` (`stream_opened`, failed, with the reason): the first of its reason and
    /// client in a minute at once, the rest counted for `auditFoldedRefusals`.
    public func audit(_ refusal: Refusal) async {
        guard let actor = refusal.actor else { return }
        let key = refusal.reason + "\n" + AddressRange.clientKey(forAddress: refusal.address)
        guard await refusals.note(key, overflowKey: refusal.reason, sample: refusal) else { return }
        await recorded(
            .streamOpened, by: actor, from: refusal.address, success: false,
            resource: ("session", String(refusal.sessionID.prefix(64))), details: ["reason": refusal.reason])
    }

    /// Writes the refusals counted in minutes that are over (`everything`: all, at shutdown), one
    /// `stream_opened` entry per reason and client with `repeated`, `first_at` and `last_at`.
    /// Answers how many entries it wrote.
    @discardableResult
    public func auditFoldedRefusals(everything: Bool = false) async -> Int {
        let folded = await refusals.drain(everything: everything)
        for item in folded {
            let refusal = item.sample
            await recorded(
                .streamOpened, by: item.severalCallers ? .anonymous(claimedEmail: nil) : (refusal.actor ?? .anonymous(claimedEmail: nil)),
                from: item.severalCallers ? nil : refusal.address, success: false,
                resource: ("session", String(refusal.sessionID.prefix(64))),
                details: [
                    "reason": refusal.reason, "repeated": String(item.count), "first_at": item.first.formatted(.iso8601),
                    "last_at": item.last.formatted(.iso8601),
                ].merging(item.severalCallers ? ["callers": "several"] : [:]) { a, _ in a })
        }
        return folded.count
    }

    /// A ticket's random bytes: 256 bits, 43 base64url characters.
    static let ticketBytes = 32

    /// 43 base64url characters, as `ticket(for:by:from:)` makes them.
    package static func isWellFormed(_ ticket: String) -> Bool {
        Base64URL.isRandom(ticket[...], byteCount: ticketBytes)
    }

    private static func detail(of refusal: StreamTicket.Refusal) -> String {
        switch refusal {
        case .unknown: "The stream ticket is unknown or already used; ask for a new one"
        case .expired: "The stream ticket has expired; ask for a new one"
        case .otherSession: "The stream ticket is for another session"
        case .otherAddress: "The stream ticket was issued to another client address"
        }
    }
}
