import Actors
import Domain
import Foundation

/// The audit trail's proof of itself: signs checkpoints of the chain (every
/// `checkpointInterval` entries, at least every `heartbeat` while entries are written, and when
/// the server stops) and walks the chain to verify it, for the API and `neosc audit verify`.
public struct AuditIntegrity: Sendable {
    /// What a verification found.
    public enum Report: Sendable, Equatable {
        case intact(AuditChainVerification.Summary)
        /// The chain is broken at `Break.seq`; `entries` were checked intact before it.
        case broken(AuditChainVerification.Break, entries: Int)
    }

    public static let checkpointInterval: Int64 = 1_000

    private let store: any AuditStore
    private let key: AuditSigningKey
    private let clock: WallClock
    /// The public keys whose checkpoints count: this server's and the ones configured beside it
    /// (a previous key, other replicas' keys).
    public let trustedKeys: [[UInt8]]
    /// Verifications under way in this process, by `verificationKey`.
    let verifications = ExclusiveKeys()
    static let verificationKey = "verification"
    /// Head signatures, one at a time: two at once would both find the head unsigned and sign it
    /// twice, and a signature still under way when the store closes would fail.
    private let signing = OneAtATime()
    private let due: AsyncStream<AuditSeal>
    private let dueContinuation: AsyncStream<AuditSeal>.Continuation

    public init(store: any AuditStore, key: AuditSigningKey, alsoTrusted: [[UInt8]] = [], clock: WallClock) {
        self.store = store
        self.key = key
        self.clock = clock
        trustedKeys = [key.publicKey] + alsoTrusted.filter { $0 != key.publicKey }
        (due, dueContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(8))
    }

    public var publicKey: [UInt8] { key.publicKey }

    /// Called by `AuditTrail` with every entry it appends; a checkpoint falls due every
    /// `checkpointInterval` entries. Never waits: `run` signs it.
    func appended(_ seal: AuditSeal) {
        if seal.seq % Self.checkpointInterval == 0 { dueContinuation.yield(seal) }
    }

    /// Signs the checkpoints that fall due, and the head every `heartbeat` when it has moved, until
    /// cancelled.
    public func run(heartbeat: Duration = .seconds(3_600)) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await seal in due {
                    _ = try? await signCommitted(seq: seal.seq)
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    _ = try? await signHead()
                    try? await Task.sleep(for: heartbeat)
                }
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// Stops `run`'s wait for due checkpoints (at shutdown).
    public func finish() {
        dueContinuation.finish()
    }

    /// Signs `seal` and stores the checkpoint.
    @discardableResult
    public func sign(_ kind: AuditCheckpoint.Kind, at seal: AuditSeal) async throws -> AuditCheckpoint {
        let checkpoint = try key.checkpoint(kind, at: seal, signedAt: clock.now())
        try await store.insert(checkpoint)
        return checkpoint
    }

    /// Signs what is due once entry `seq` is committed: the due signal comes as the entry is
    /// appended, which inside `AuditTrail.change` is before its transaction commits (or rolls
    /// back, after which another entry takes the `seq`). Gives up after about two seconds; the
    /// next heartbeat signs what is left.
    @discardableResult
    func signCommitted(seq: Int64) async throws -> AuditCheckpoint? {
        for _ in 0..<40 {
            if let seal = try await store.chain(from: seq, limit: 1).first?.seal, seal.seq == seq {
                return try await signHead()
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    /// The chain is broken where the signer would have signed: it signs nothing past the last
    /// good checkpoint (verification reports where).
    public struct RefusedToSign: Error, CustomStringConvertible {
        public var broken: AuditChainVerification.Break
        public var description: String { "the audit chain is broken at seq \(broken.seq): \(broken.problem); nothing signed" }
    }

    /// Signs every checkpoint due since the newest one: each multiple of `checkpointInterval`
    /// and the head. Checks first that the entries since that checkpoint still link to it, so a
    /// chain changed behind NeoSC's back is never signed as if it were intact. Nil when nothing
    /// was due.
    @discardableResult
    public func signHead() async throws -> AuditCheckpoint? {
        try await signing.run { try await signDue() } ?? nil
    }

    /// Signs the head as `signHead` does, after any signature under way and as the last: nothing
    /// is signed after it (the store closes next). To its end even if the caller is cancelled.
    @discardableResult
    public func signLastHead() async throws -> AuditCheckpoint? {
        try await signing.runLast { try await signDue() } ?? nil
    }

    private func signDue() async throws -> AuditCheckpoint? {
        guard let head = try await store.chainHead() else { return nil }
        // One read of the checkpoints, and signatures checked newest first only until one holds:
        // this runs every 1,000 entries, and the trail keeps one checkpoint per 1,000.
        let checkpoints = try await store.checkpoints()
        let heads = checkpoints.filter { $0.kind == .head }.sorted { $0.seq > $1.seq }
        let newest = heads.first { trustedKeys.contains($0.publicKey) && $0.isSignatureValid }
        guard head.seq > newest?.seq ?? 0 else { return nil }
        let done = Set(heads.map(\.seq))
        let start = newest.map { ($0.seq, $0.hash) } ?? keptChainStart(checkpoints)
        var last: AuditCheckpoint?
        try await walkLinks(after: start, through: head.seq) { seal in
            if seal.seq % Self.checkpointInterval == 0 || seal.seq == head.seq, !done.contains(seal.seq) {
                last = try await sign(.head, at: seal)
            }
        }
        return last
    }

    /// Where the kept chain starts: after the newest retention checkpoint, else at entry 1.
    private func keptChainStart(_ checkpoints: [AuditCheckpoint]) -> (seq: Int64, hash: [UInt8]) {
        let anchor = checkpoints.filter { $0.kind == .retention }.sorted { $0.seq > $1.seq }
            .first { trustedKeys.contains($0.publicKey) && $0.isSignatureValid }
        return anchor.map { ($0.seq, $0.hash) } ?? (0, AuditChain.genesis)
    }

    /// Walks the entries after `start` up to `last` (or the chain's end), each of which must follow
    /// the one before, and hands each seal to `visit`; throws `RefusedToSign` where one does not.
    private func walkLinks(
        after start: (seq: Int64, hash: [UInt8]), through last: Int64, _ visit: (AuditSeal) async throws -> Void
    ) async throws {
        var previous = start
        while previous.seq < last {
            let page = try await store.chain(from: previous.seq + 1, limit: 1_000)
            if page.isEmpty { return }
            for event in page {
                guard let seal = event.seal, seal.seq <= last else { return }
                guard seal.seq == previous.seq + 1, seal.prevHash == previous.hash,
                    AuditChain.hash(of: event, seq: seal.seq, after: seal.prevHash) == seal.hash
                else {
                    throw RefusedToSign(broken: .init(seq: seal.seq, problem: "it does not link to the entries before it"))
                }
                try await visit(seal)
                previous = (seal.seq, seal.hash)
            }
        }
    }

    /// What a retention pass removed.
    public struct Retention: Sendable, Equatable {
        public var removed: Int
        /// The last `seq` removed; the kept chain starts after it.
        public var through: Int64
        /// Entries found at or before the previous anchor (a removal cut short, or planted) and removed.
        public var leftovers: Int
    }

    /// Removes the entries written before `cutoff` (`NEOSC_AUDIT_RETENTION_DAYS`): only a whole
    /// prefix of the chain, never its newest entry, never one a forwarding target has not taken
    /// yet (`keepingFrom`: the lowest `seq` still to deliver), and only after checking that what
    /// goes still links, to the entry after it too, and matches every trusted checkpoint in it;
    /// a signed `retention` checkpoint at the last entry removed records where the kept chain
    /// starts. Nil when nothing was old enough.
    public func applyRetention(before cutoff: Date, keepingFrom kept: Int64? = nil) async throws -> Retention? {
        guard let head = try await store.chainHead() else { return nil }
        let checkpoints = try await store.checkpoints()
        let start = keptChainStart(checkpoints)
        var leftovers = 0
        // A removal cut short (MongoDB has no transaction) is finished first.
        if start.seq > 0, let oldest = try await store.chain(from: 1, limit: 1).first?.seal, oldest.seq <= start.seq,
            let anchor = checkpoints.first(where: { $0.kind == .retention && $0.seq == start.seq })
        {
            leftovers = try await store.removeEntries(through: anchor)
        }
        var through = min(try await store.firstSeq(since: cutoff) ?? head.seq, head.seq) - 1
        if let kept { through = min(through, kept - 1) }
        guard through > start.seq else {
            return leftovers > 0 ? Retention(removed: 0, through: start.seq, leftovers: leftovers) : nil
        }
        let pinned = checkpoints.filter {
            $0.kind == .head && $0.seq > start.seq && $0.seq <= through + 1 && trustedKeys.contains($0.publicKey)
                && $0.isSignatureValid
        }
        var end: AuditSeal?
        var next: AuditSeal?
        try await walkLinks(after: start, through: through + 1) { seal in
            if pinned.contains(where: { $0.seq == seal.seq && $0.hash != seal.hash }) {
                throw RefusedToSign(broken: .init(seq: seal.seq, problem: "the entry differs from its signed checkpoint"))
            }
            if seal.seq <= through { end = seal } else { next = seal }
        }
        guard let end, end.seq == through, next?.seq == through + 1 else {
            throw RefusedToSign(broken: .init(seq: (end?.seq ?? start.seq) + 1, problem: "an entry to remove or keep is missing"))
        }
        let removed = try await store.removeEntries(through: try key.checkpoint(.retention, at: end, signedAt: clock.now()))
        return Retention(removed: removed, through: through, leftovers: leftovers)
    }

    /// `<seq>:<hash>` (a head as verification reports it: `seq` from 1 in at most 18 decimal
    /// digits, no sign or leading zero; `hash` 64 hex digits) as an expected entry; nil when
    /// `text` is not one. 18 digits keep every accepted `seq` an `Int64`, and no trail reaches
    /// 10^18 entries.
    public static func expectedEntry(_ text: String) -> (seq: Int64, hash: [UInt8])? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let digits = parts.first?.utf8, (1...18).contains(digits.count),
            digits.first != UInt8(ascii: "0"), digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let seq = Int64(parts[0]), parts[1].utf8.count == 64, let hash = Hex.decode(parts[1])
        else { return nil }
        return (seq, hash)
    }

    /// Walks the whole chain, `pageSize` entries at a time, and every checkpoint.
    /// - Parameter expected: an entry noted earlier that the chain must still hold, as it was.
    public func verify(pageSize: Int = 5_000, expected: (seq: Int64, hash: [UInt8])? = nil) async throws -> Report {
        try await Self.verify(store, trusting: trustedKeys, pageSize: pageSize, expected: expected)
    }

    /// `verify`, unless another verification started this way is under way in this process: then
    /// nil. Each reads the whole trail, so the API runs one at a time.
    public func verifyAlone(expected: (seq: Int64, hash: [UInt8])? = nil) async throws -> Report? {
        guard await verifications.take(Self.verificationKey) else { return nil }
        let report: Report
        do {
            report = try await verify(expected: expected)
        } catch {
            await verifications.release(Self.verificationKey)
            throw error
        }
        await verifications.release(Self.verificationKey)
        return report
    }

    /// Whether a verification started by `verifyAlone` is under way in this process.
    public var isVerifying: Bool {
        get async { await verifications.holds(Self.verificationKey) }
    }

    /// Walks `store`'s whole chain and checkpoints, counting only checkpoints signed by one of
    /// `trustedKeys` (raw Ed25519 public keys); for `neosc audit verify`, which signs nothing.
    /// Every `checkpointInterval`th entry but the newest must be checkpointed, the trail may hold
    /// no entry outside the chain, and an entry that cannot be read breaks it.
    public static func verify(
        _ store: any AuditStore, trusting trustedKeys: [[UInt8]], pageSize: Int = 5_000,
        expected: (seq: Int64, hash: [UInt8])? = nil
    ) async throws -> Report {
        var walk: AuditChainVerification
        // Counted before the walk: entries appended meanwhile are walked but not counted.
        let stored = try await store.auditEntryCount()
        let checkpoints: [AuditCheckpoint]
        do {
            checkpoints = try await store.checkpoints()
        } catch let error as DomainError {
            throw error  // the store, not the trail: 503
        } catch {
            // A checkpoint row changed so that it no longer reads is a finding, not a 500.
            return .broken(.init(seq: 0, problem: "a checkpoint cannot be read (\(error))"), entries: 0)
        }
        do {
            walk = try AuditChainVerification(
                checkpoints: checkpoints, trustedKeys: trustedKeys, checkpointInterval: checkpointInterval, expected: expected)
        } catch {
            return .broken(error, entries: 0)
        }
        var checked = 0
        while true {
            let page: [AuditEvent]
            do {
                page = try await store.chain(from: walk.nextSeq, limit: pageSize)
            } catch let error as DomainError {
                throw error  // the store, not the trail: 503
            } catch {
                return .broken(.init(seq: walk.nextSeq, problem: "an entry from here on cannot be read (\(error))"), entries: checked)
            }
            for event in page {
                do {
                    try walk.check(event)
                } catch {
                    return .broken(error, entries: checked)
                }
                checked += 1
            }
            if page.count < pageSize { break }
        }
        let summary: AuditChainVerification.Summary
        do {
            summary = try walk.finish()
        } catch {
            return .broken(error, entries: checked)
        }
        if stored > checked {
            return .broken(
                .init(
                    seq: 0,
                    problem: "\(stored - checked) entries of the trail are outside the chain (no seq, a seq before "
                        + "its first, a seq held twice, or no hash): they were not written by NeoSC"),
                entries: checked)
        }
        return .intact(summary)
    }
}
