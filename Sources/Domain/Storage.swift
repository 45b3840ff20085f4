import Foundation

// One protocol per aggregate. Adapters (SQLite today, MongoDB next) implement all of them and
// pass the same conformance tests. Every method is one atomic step: it either happens whole or
// throws, and a multi-record change (register into a new organisation, delete a workspace and
// end its sessions) is one method so it can be one transaction.
//
// Adapters throw `DomainError.conflict` for uniqueness and state conflicts, and
// `DomainError.unavailable` when the database cannot be reached.

public protocol UserStore: Sendable {
    /// Inserts `user`, and `organization` first when given (registration into a new organisation).
    func insert(_ user: User, creating organization: Organization?) async throws
    func user(id: String) async throws -> User?
    /// Those of `ids` that exist, in any order (a revalidation of many cached tokens at once).
    func users(ids: [String]) async throws -> [User]
    func user(email: String) async throws -> User?
    /// The account linked to an identity provider's subject.
    func user(ssoProvider: String, subject: String) async throws -> User?
    /// Newest first; with `search`, only those whose e-mail or name contains it, ignoring case
    /// (ASCII letters only on the embedded store, as SQLite's `LIKE`).
    func users(matching search: String?, limit: Int, offset: Int) async throws -> [User]
    /// Replaces the stored user with the same id — all but its password (`passwordHash`,
    /// `mustChangePassword`), which only `setPassword` writes, so a change made from an older copy
    /// can never put an old password back; throws `notFound` when there is none.
    func update(_ user: User) async throws
    /// Writes the fields in which `user` differs from `before` (the copy the change was made
    /// from), and `updatedAt`, leaving every other field as stored: two concurrent changes of
    /// different fields (a role, a disabling, a provider's new name) both take effect. Refuses
    /// (`DomainError.lastAdministrator`) a change that would leave no active administrator —
    /// judged on the stored account, atomically: of two concurrent changes that would each remove
    /// one of the last two administrators, one is refused. Every change that may demote or
    /// disable an account goes through here.
    func updateKeepingAnAdministrator(_ user: User, from before: User) async throws
    /// Sets (nil: removes) the account's password hash and whether it must be changed, touching nothing else;
    /// with `requireEnabled`, only while the account is not disabled; with `replacing`, only while
    /// the stored hash is still that one (the one a change checked the current password against).
    /// False when no such account, or a condition does not hold.
    func setPassword(
        userID: String, hash: String?, mustChange: Bool, at now: Date, requireEnabled: Bool, replacing previous: String?
    ) async throws -> Bool
    /// Sets (or, nil, clears) the NetBird peer the account registered; false when there is no such account.
    func setNetbirdPeer(userID: String, peerID: String?, at now: Date) async throws -> Bool
    /// Users that are not disabled, optionally only one organisation's, and how many of them have
    /// MFA; demo visitors' accounts are not counted (every demo leaves one, which can have no
    /// second factor).
    func activeUserCounts(organizationID: String?) async throws -> (total: Int, withMFA: Int)
    func activeAdminCount() async throws -> Int
}

public protocol OrganizationStore: Sendable {
    /// Throws `conflict` when the name is taken (case-insensitively).
    func insert(_ organization: Organization) async throws
    func organization(id: String) async throws -> Organization?
    /// Those of `ids` that exist, in any order.
    func organizations(ids: [String]) async throws -> [Organization]
    func organization(named name: String) async throws -> Organization?
    func organizations() async throws -> [Organization]
}

public protocol WorkspaceStore: Sendable {
    func workspaces() async throws -> [Workspace]
    func workspace(id: String) async throws -> Workspace?
    /// Throws `conflict` when the id is taken.
    func insert(_ workspace: Workspace) async throws
    /// Throws `notFound` when there is no workspace with that id.
    func update(_ workspace: Workspace) async throws
    /// Deletes the workspace and ends its active sessions; returns the sessions it ended, or nil if absent.
    func delete(id: String, ending: SessionEnding, at now: Date) async throws -> [WorkspaceSession]?
    /// Replaces every workspace with `catalogue`, ending active sessions on workspaces that go away.
    func replaceAll(with catalogue: [Workspace], ending: SessionEnding, at now: Date) async throws -> [WorkspaceSession]
}

public protocol SessionStore: Sendable {
    /// Inserts an active session unless its user already has `limit` active ones (checked atomically).
    func start(_ session: WorkspaceSession, limit: Int) async throws
    func session(id: String) async throws -> WorkspaceSession?
    /// Newest first; `userID` nil means everyone's.
    func sessions(userID: String?, status: SessionStatus?, limit: Int) async throws -> [WorkspaceSession]
    /// Ends one session if it is still active; nil when it was not (or does not exist).
    func end(id: String, _ ending: SessionEnding, at now: Date) async throws -> WorkspaceSession?
    /// Ends the user's active session on the workspace, if any.
    func end(userID: String, workspaceID: String, _ ending: SessionEnding, at now: Date) async throws -> WorkspaceSession?
    /// Ends every active session of the user.
    func endAll(userID: String, _ ending: SessionEnding, at now: Date) async throws -> [WorkspaceSession]
    func activeCount(userID: String) async throws -> Int
    /// Active sessions per workspace id.
    func activeCountsByWorkspace() async throws -> [String: Int]
    /// Active sessions overall, or of one organisation's users.
    func activeCount(organizationID: String?) async throws -> Int
    /// Records a heartbeat; nil when the session is not active.
    func touch(id: String, at now: Date) async throws -> WorkspaceSession?
}

public protocol DemoStore: Sendable {
    /// Inserts an active demo unless `limit` demos are active overall or `perAddressLimit` from its
    /// client (`DemoCapacity`: an IPv4 address, an IPv6 /64), checked atomically; throws
    /// `rateLimited` naming when a slot frees up.
    func insert(_ demo: DemoSession, limit: Int, perAddressLimit: Int) async throws
    /// Stores what the provisioner returned (connection URL, NetBird peer) while the demo is still
    /// active: the demo as stored (an extension may have moved its expiry meanwhile), or nil when
    /// it has ended or its clean-up has begun.
    func recordProvisioning(of demo: DemoSession) async throws -> DemoSession?
    func demo(id: String) async throws -> DemoSession?
    /// The demo a `demo-user` account belongs to.
    func demo(userID: String) async throws -> DemoSession?
    /// The newest active demo started with `contactEmail` (normalised), if any.
    func activeDemo(contactEmail: String) async throws -> DemoSession?
    /// Newest first; `userID` nil means everyone's.
    func demos(userID: String?, limit: Int) async throws -> [DemoSession]
    /// Demos still to clean up (active or expiring), for re-arming at start-up and the periodic rescan.
    func unfinishedDemos() async throws -> [DemoSession]
    func activeDemoCount() async throws -> Int
    /// Moves the expiry of an active demo from `previous` (the expiry the move was judged on) to
    /// `expiresAt`; nil when it is no longer active, or its expiry is no longer `previous`.
    func extend(id: String, from previous: Date, to expiresAt: Date) async throws -> DemoSession?
    /// Claims the clean-up for `replica` until `leaseUntil`, atomically: an active demo whose
    /// deadline has passed (or any active one when `endingAs` is `ended`), or an expiring one whose
    /// previous claim ran out. Nil when there is nothing to claim (finished, or another replica holds it).
    func claimCleanup(
        id: String, replica: String, endingAs: DemoSession.Status, at now: Date, leaseUntil: Date
    )
        async throws -> DemoSession?
    /// Extends a held claim (before each attempt of a slow step); false when `replica` no longer holds it.
    func renewClaim(id: String, replica: String, leaseUntil: Date) async throws -> Bool
    /// Records a finished step and renews the claim; false when `replica` no longer holds it.
    func completeStep(_ step: DemoCleanupStep, id: String, replica: String, leaseUntil: Date) async throws -> Bool
    /// The last step: the demo becomes `expired` or `ended` at `now`.
    func finish(id: String, replica: String, at now: Date) async throws -> DemoSession?
}

public protocol TokenStore: Sendable {
    func insert(_ token: AccessToken) async throws
    func token(digest: String) async throws -> AccessToken?
    /// Those of `digests` that are stored, revoked and expired ones included, in any order.
    func tokens(digests: [String]) async throws -> [AccessToken]
    /// `tokens(digests:)`, each with the account it was issued to (nil when there is none), read
    /// together: what a token's first request needs, in one query where the store can join.
    func tokensWithHolders(digests: [String]) async throws -> [(token: AccessToken, holder: User?)]
    /// Marks the token revoked; false when it was unknown or already revoked.
    func revoke(digest: String, at now: Date) async throws -> Bool
    /// Revokes every live token of the user; returns how many.
    func revokeAll(userID: String, at now: Date) async throws -> Int
    /// Revokes every live token of the user but the one with digest `kept` (the caller's own,
    /// when a password change signs out everywhere else); how many were revoked.
    func revokeAll(userID: String, except kept: String, at now: Date) async throws -> Int
    /// Moves the expiry of every live token of the user (a demo extended): not revoked, and not
    /// expired at `now` (an expired token stays dead).
    func setExpiry(userID: String, to expiresAt: Date, at now: Date) async throws
    /// Deletes tokens (and redeemed nonces) that expired before `cutoff`; returns how many tokens.
    func purgeExpired(before cutoff: Date) async throws -> Int
}

public protocol AuditStore: Sendable {
    /// Runs `body`, a change and the audit entries it records, as one unit: every change made
    /// through the store inside `body`, and each entry appended, commit together or not at all
    /// (one SQLite transaction; on MongoDB a multi-document transaction, or on a standalone
    /// server a journaled change whose entries wait in its commit record: docs/audit.md). A call
    /// inside `body` joins it. `published` is told of entries sealed only after `body` returned.
    func atomically<T: Sendable>(
        _ body: () async throws -> T, published: @escaping @Sendable (AuditSeal) -> Void
    ) async throws -> T
    /// Finishes the changes a process that died left unfinished: publishes the entries of those
    /// that committed, undoes those that did not (only where the store needs it: a standalone
    /// MongoDB's journaled changes).
    func finishInterruptedChanges(at now: Date) async throws -> InterruptedChanges
    /// Whether `atomically` can hold a change that walks and removes much of the trail
    /// (retention): the embedded store's one transaction can; MongoDB's transactions are limited
    /// in time and a journal document in size, so there retention runs its steps one by one.
    var atomicallyHoldsBulkRemovals: Bool { get }
    /// Appends `event` at the end of the audit chain, atomically: sealed (`AuditChain`) as the
    /// entry after the current head, with the next `seq`. Returns the entry as stored.
    @discardableResult
    func append(_ event: AuditEvent) async throws -> AuditEvent
    /// Up to `limit` entries with `seq` at least `seq`, in `seq` order (verification, forwarding).
    func chain(from seq: Int64, limit: Int) async throws -> [AuditEvent]
    /// The newest entry's seal; nil when the trail is empty.
    func chainHead() async throws -> AuditSeal?
    /// Every entry the trail holds, in the chain or not (verification compares the two).
    func auditEntryCount() async throws -> Int
    /// The `seq` up to which entries were delivered to forwarding target `sink` (0: none yet).
    func forwardingCursor(_ sink: String) async throws -> Int64
    /// Records delivery to `sink` up to `seq`; the cursor only ever moves forward.
    func advanceForwardingCursor(_ sink: String, to seq: Int64, at now: Date) async throws
    /// Stores a checkpoint; one of the same kind and `seq` already stored is kept instead.
    func insert(_ checkpoint: AuditCheckpoint) async throws
    /// Every stored checkpoint, oldest `seq` first.
    func checkpoints() async throws -> [AuditCheckpoint]
    /// The `seq` of the oldest chain entry written at or after `date`; nil when there is none.
    func firstSeq(since date: Date) async throws -> Int64?
    /// Retention: stores `anchor` (a `retention` checkpoint at the last entry removed) and
    /// removes every entry and head checkpoint up to `anchor.seq`. Returns how many entries went.
    func removeEntries(through anchor: AuditCheckpoint) async throws -> Int
    /// Newest first, at most `query.limit` entries.
    func events(_ query: AuditQuery) async throws -> [AuditEvent]
    /// The ids of the entries `events(query)` gives, in the same order: a page without its
    /// contents, for a reader that keeps sealed entries (which never change) it has read before.
    func eventIDs(_ query: AuditQuery) async throws -> [String]
    /// The entries with these ids, in no particular order; an id that names none is left out.
    func events(ids: [String]) async throws -> [AuditEvent]
    /// Where the trail stands (`AuditTrailVersion`), read cheaply; nil when the store cannot say,
    /// or the trail is empty (then a reader reads the entries, or their ids, to know).
    func trailVersion() async throws -> AuditTrailVersion?
    /// Entries with one of `actions` since `since`, within `scope`, counted in one query.
    func count(of actions: [AuditAction], since: Date, scope: AuditScope) async throws -> Int
    /// When each successful entry with one of `actions` since `since` within `scope` happened, newest first,
    /// at most `limit`: what the dashboard's chart counts, read in one query.
    func occurrences(of actions: [AuditAction], since: Date, scope: AuditScope, limit: Int) async throws -> [AuditOccurrence]
}

public protocol PolicyStore: Sendable {
    func policies() async throws -> [Policy]
    func policy(id: String) async throws -> Policy?
    /// Sets `enabled`, or flips it when nil, atomically; nil when the policy does not exist.
    func setEnabled(id: String, _ enabled: Bool?, at now: Date) async throws -> Policy?
    /// Inserts the policies whose ids are missing; leaves existing ones as they are.
    func insertMissing(_ policies: [Policy]) async throws
    /// A new policy; `DomainError.conflict` when its id is taken.
    func insert(_ policy: Policy) async throws
    /// Replaces the policy with `policy.id`; false when there is none.
    func replace(_ policy: Policy) async throws -> Bool
    func deletePolicy(id: String) async throws -> Bool
}

/// The nonces of signed ID tokens already exchanged for a NeoSC session, kept in the store so
/// that a restart forgets none and every replica sees every redemption.
public protocol NonceStore: Sendable {
    /// Records `digest` (of a nonce) as redeemed until `expiresAt`; false when it was redeemed
    /// already and that record has not expired — atomically, so of two concurrent redemptions of
    /// one nonce, on any replicas, exactly one answers true.
    func redeem(nonce digest: String, until expiresAt: Date, at now: Date) async throws -> Bool
}

/// Second factors of local accounts: one TOTP enrolment per account, and the sign-in challenges
/// between a right password and a right code (`TokenStore.purgeExpired` removes expired ones).
public protocol MFAStore: Sendable {
    /// The account's enrolment, pending or confirmed.
    func totpEnrollment(userID: String) async throws -> TOTPEnrollment?
    /// Stores `enrollment` as its account's pending enrolment, replacing a pending one; false,
    /// writing nothing, when the account has a confirmed one.
    func beginEnrollment(_ enrollment: TOTPEnrollment) async throws -> Bool
    /// Confirms the account's pending enrolment with key `secret` and sets the account's
    /// `mfaEnabled`; false when no such enrolment is pending (none, or another key).
    func confirmEnrollment(userID: String, secret: String, at now: Date) async throws -> Bool
    /// Removes the account's enrolment if it is still `expected` (its key and whether it is
    /// confirmed; any, when nil), clears the account's `mfaEnabled` and drops its sign-in
    /// challenges; false when there was none to remove.
    func removeEnrollment(userID: String, matching expected: TOTPEnrollment?, at now: Date) async throws -> Bool
    /// Strikes `digest` from the account's unused recovery codes, atomically: of two uses of one
    /// code exactly one answers true.
    func useRecoveryCode(userID: String, digest: String) async throws -> Bool
    func insert(_ challenge: MFAChallenge) async throws
    func mfaChallenge(digest: String) async throws -> MFAChallenge?
    /// Removes the challenge; false when it is gone already (spent by a concurrent verification).
    func removeMFAChallenge(digest: String) async throws -> Bool
    /// Removes every challenge of the account (its password changed, it was disabled, a second
    /// factor was just enrolled): what a password once proved proves nothing any more.
    @discardableResult
    func removeMFAChallenges(userID: String) async throws -> Int
}

/// Stream tickets between their issue and their use (issue #17), in the store so that every
/// replica sees every ticket (`TokenStore.purgeExpired` removes expired ones).
public protocol StreamTicketStore: Sendable {
    /// Keeps `ticket` and at most `keeping - 1` (`keeping` ≥ 1) others of its session, the
    /// newest: a session's oldest tickets give way to a new one, never the new one itself.
    func insert(_ ticket: StreamTicket, keeping: Int) async throws
    /// Removes the ticket with `digest` and answers it, atomically: of two takes of one ticket,
    /// on any replicas, exactly one gets it. Never inside `atomically`: a change rolled back
    /// would bring a used ticket back.
    func takeStreamTicket(digest: String) async throws -> StreamTicket?
}

/// Unlocks of throttled accounts (`LoginUnlock`), read by every server process.
public protocol LoginUnlockStore: Sendable {
    func insert(_ unlock: LoginUnlock) async throws
    /// Unlocks recorded at or after `since`, oldest first (`TokenStore.purgeExpired` removes
    /// old ones).
    func unlocks(since: Date) async throws -> [LoginUnlock]
}

extension UserStore {
    /// Newest first, all of them.
    public func users(limit: Int, offset: Int) async throws -> [User] {
        try await users(matching: nil, limit: limit, offset: offset)
    }
}

/// Everything NeoSC keeps, as one value the server is wired with.
public protocol Store: UserStore, OrganizationStore, WorkspaceStore, SessionStore, TokenStore, AuditStore,
    PolicyStore, DemoStore, NonceStore, LoginUnlockStore, MFAStore, StreamTicketStore
{
    /// Cheap round trip proving the store answers.
    func ping() async throws
    /// Writes one small record through the path every change takes (SQLite's journal, MongoDB's
    /// write concern), proving the store accepts writes; throws `DomainError.unavailable` with
    /// the reason when it does not (a full disk, a read-only file, no primary).
    func probeWrite(at now: Date) async throws
    /// The counts and newest entries of an overview (`OverviewQuery`), in one read where the
    /// store can; `overviewInParts` otherwise.
    func overview(_ query: OverviewQuery) async throws -> Overview
    /// Installs the default catalogue and policies on an empty store.
    func seedDefaults(at now: Date) async throws
    func close() async throws
}

extension AuditStore {
    /// A store that cannot say where its trail stands cheaply (MongoDB's entries are sealed
    /// after their transaction: a `seq` says nothing of the staged ones).
    public func trailVersion() async throws -> AuditTrailVersion? { nil }

    /// `atomically(_:published:)` for a caller that signs no checkpoints.
    public func atomically<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await atomically(body, published: { _ in })
    }
}

/// What a recovery pass (`AuditStore.finishInterruptedChanges`) did.
public struct InterruptedChanges: Sendable, Equatable {
    /// A change undone: its journal and how many writes it had made or was about to make.
    public struct Undone: Sendable, Equatable {
        public var id: String
        public var writes: Int

        public init(id: String, writes: Int) {
            self.id = id
            self.writes = writes
        }
    }

    /// Entries of committed changes appended to the chain.
    public var published = 0
    public var undone: [Undone] = []
    /// What could not be finished this time (the next pass tries again), for the log.
    public var failures: [String] = []

    public init() {}
}
