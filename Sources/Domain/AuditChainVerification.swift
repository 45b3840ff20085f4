import Foundation

/// Walks an audit chain, entry by entry in `seq` order, and finds the first place where it was
/// changed: an entry whose contents no longer match its hash, a link that does not lead to the
/// entry before, a missing `seq`, a checkpoint not signed by a trusted key, or entries removed
/// up to a checkpoint. Pure: the caller feeds entries (a page at a time) and acts on the result.
public struct AuditChainVerification: Sendable {
    /// The first thing found wrong.
    public struct Break: Sendable, Equatable, Error {
        /// The `seq` at which the chain breaks.
        public var seq: Int64
        public var problem: String

        public init(seq: Int64, problem: String) {
            self.seq = seq
            self.problem = problem
        }
    }

    public struct Summary: Sendable, Equatable {
        /// Entries checked.
        public var entries: Int
        /// The last entry's seal, nil for an empty chain.
        public var head: AuditSeal?
        /// The first `seq` of the kept chain (1 unless retention removed a prefix).
        public var firstSeq: Int64
        public var checkpoints: Int
        /// The newest checkpoint that pins an entry (nil when there is none).
        public var lastCheckpoint: AuditCheckpoint?
    }

    private var expectedSeq: Int64
    private var previousHash: [UInt8]
    private let firstSeq: Int64
    private var entries = 0
    private var head: AuditSeal?
    /// Head checkpoints still ahead of the walk, by `seq`.
    private var pinned: [Int64: [AuditCheckpoint]]
    private let checkpointCount: Int
    private let lastCheckpoint: AuditCheckpoint?
    /// Every `seq` that is a multiple of this, one interval or more behind the head, must have a
    /// head checkpoint (nil: none is required).
    private let checkpointInterval: Int64?
    private let signedSeqs: Set<Int64>
    /// An entry the caller knows (a head noted earlier, from elsewhere): the chain must hold it.
    private var expected: (seq: Int64, hash: [UInt8])?

    /// - Parameters:
    ///   - checkpoints: every checkpoint the store holds, in any order.
    ///   - trustedKeys: the raw Ed25519 public keys whose signatures count.
    ///   - checkpointInterval: the interval at which the signer checkpoints; with it, a missing
    ///     checkpoint (one removed, to rewrite the entries it pinned) breaks the chain.
    ///   - expected: an entry noted earlier that the chain must still hold, as it was: what
    ///     catches entries removed from the end together with their checkpoints.
    /// - Throws: `Break` when a checkpoint is not validly signed by a trusted key.
    public init(
        checkpoints: [AuditCheckpoint], trustedKeys: [[UInt8]], checkpointInterval: Int64? = nil,
        expected: (seq: Int64, hash: [UInt8])? = nil
    ) throws(Break) {
        for checkpoint in checkpoints.sorted(by: { $0.seq < $1.seq }) {
            guard trustedKeys.contains(checkpoint.publicKey) else {
                throw Break(seq: checkpoint.seq, problem: "the checkpoint at seq \(checkpoint.seq) is signed by a key that is not trusted")
            }
            guard checkpoint.isSignatureValid else {
                throw Break(seq: checkpoint.seq, problem: "the checkpoint at seq \(checkpoint.seq) has an invalid signature")
            }
        }
        // The kept chain starts after the newest retention checkpoint, if any.
        let anchor = checkpoints.filter { $0.kind == .retention }.max { $0.seq < $1.seq }
        let firstSeq = (anchor?.seq ?? 0) + 1
        self.firstSeq = firstSeq
        expectedSeq = firstSeq
        previousHash = anchor?.hash ?? AuditChain.genesis
        pinned = Dictionary(grouping: checkpoints.filter { $0.kind == .head && $0.seq >= firstSeq }, by: \.seq)
        checkpointCount = checkpoints.count
        lastCheckpoint = checkpoints.filter { $0.kind == .head }.max { $0.seq < $1.seq }
        self.checkpointInterval = checkpointInterval
        signedSeqs = Set(checkpoints.filter { $0.kind == .head }.map(\.seq))
        self.expected = expected
    }

    /// The `seq` the next entry must have.
    public var nextSeq: Int64 { expectedSeq }

    /// Checks the next entry of the walk.
    public mutating func check(_ event: AuditEvent) throws(Break) {
        guard let seal = event.seal else {
            throw Break(seq: expectedSeq, problem: "entry \(event.id) after seq \(expectedSeq - 1) is not sealed")
        }
        if seal.seq != expectedSeq {
            if seal.seq > expectedSeq {
                let missing = seal.seq - 1 == expectedSeq ? "seq \(expectedSeq) is" : "seq \(expectedSeq) to \(seal.seq - 1) are"
                throw Break(seq: expectedSeq, problem: "entries are missing: \(missing) not in the trail")
            }
            throw Break(seq: seal.seq, problem: "seq \(seal.seq) appears again after seq \(expectedSeq - 1)")
        }
        guard seal.prevHash == previousHash else {
            throw Break(seq: seal.seq, problem: "prev_hash does not match the hash of the entry before it (seq \(seal.seq - 1))")
        }
        guard AuditChain.hash(of: event, seq: seal.seq, after: previousHash) == seal.hash else {
            throw Break(seq: seal.seq, problem: "the entry's contents do not match its hash (it was changed after it was written)")
        }
        if let checkpoints = pinned.removeValue(forKey: seal.seq) {
            guard checkpoints.allSatisfy({ $0.hash == seal.hash }) else {
                throw Break(seq: seal.seq, problem: "the entry's hash differs from the one its signed checkpoint records")
            }
        }
        if let expected, expected.seq == seal.seq {
            guard expected.hash == seal.hash else {
                throw Break(seq: seal.seq, problem: "the entry's hash differs from the expected one")
            }
            self.expected = nil
        }
        previousHash = seal.hash
        expectedSeq += 1
        entries += 1
        head = seal
    }

    /// Ends the walk: the chain must reach every checkpoint and the expected entry, and hold a
    /// checkpoint at every interval but the newest.
    public func finish() throws(Break) -> Summary {
        if let expected {
            throw Break(
                seq: expectedSeq,
                problem: "the trail ends at seq \(expectedSeq - 1) but the expected entry is seq \(expected.seq): entries were removed from the end")
        }
        if let beyond = pinned.keys.min() {
            let signedAt = pinned[beyond]!.map(\.signedAt).min()!
            throw Break(
                seq: expectedSeq,
                problem: "the trail ends at seq \(expectedSeq - 1) but a checkpoint signed at "
                    + "\(signedAt.formatted(.iso8601)) records seq \(beyond): entries were removed from the end")
        }
        if let interval = checkpointInterval, let head, head.seq >= interval * 2 {
            let first = max((firstSeq + interval - 1) / interval, 1) * interval
            var seq = first
            while seq <= head.seq - interval {
                guard signedSeqs.contains(seq) else {
                    throw Break(seq: seq, problem: "no signed checkpoint at seq \(seq): a checkpoint was removed")
                }
                seq += interval
            }
        }
        return Summary(
            entries: entries, head: head, firstSeq: firstSeq, checkpoints: checkpointCount, lastCheckpoint: lastCheckpoint)
    }
}
