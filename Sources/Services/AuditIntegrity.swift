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
    /// cancelled; then signs the head a last time.
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

    /// Signs entry `seq` once it is committed: the due signal comes as the entry is appended,
    /// which inside `AuditTrail.change` is before its transaction commits (or rolls back, after
    /// which another entry takes the `seq`). Gives up after about two seconds; the next
    /// heartbeat signs the head then.
    @discardableResult
    func signCommitted(seq: Int64) async throws -> AuditCheckpoint? {
        for _ in 0..<40 {
            if let seal = try await store.chain(from: seq, limit: 1).first?.seal, seal.seq == seq {
                return try await sign(.head, at: seal)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    /// Signs the chain's head unless a head checkpoint already covers it; nil when none was needed.
    @discardableResult
    public func signHead() async throws -> AuditCheckpoint? {
        guard let head = try await store.chainHead() else { return nil }
        let newest = try await store.checkpoints().filter { $0.kind == .head }.map(\.seq).max() ?? 0
        guard head.seq > newest else { return nil }
        return try await sign(.head, at: head)
    }

    /// Walks the whole chain, `pageSize` entries at a time, and every checkpoint.
    public func verify(pageSize: Int = 5_000) async throws -> Report {
        try await Self.verify(store, trusting: trustedKeys, pageSize: pageSize)
    }

    /// Walks `store`'s whole chain and checkpoints, counting only checkpoints signed by one of
    /// `trustedKeys` (raw Ed25519 public keys); for `neosc audit verify`, which signs nothing.
    public static func verify(
        _ store: any AuditStore, trusting trustedKeys: [[UInt8]], pageSize: Int = 5_000
    ) async throws -> Report {
        var walk: AuditChainVerification
        let checkpoints = try await store.checkpoints()
        do {
            walk = try AuditChainVerification(checkpoints: checkpoints, trustedKeys: trustedKeys)
        } catch {
            return .broken(error, entries: 0)
        }
        var checked = 0
        while true {
            let page = try await store.chain(from: walk.nextSeq, limit: pageSize)
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
        do {
            return .intact(try walk.finish())
        } catch {
            return .broken(error, entries: checked)
        }
    }
}
