import Domain
import Foundation
import Hummingbird
import Services

/// `GET /api/audit-logs/verify`: whether the chain and its checkpoints are intact, or where it
/// first breaks and how.
public struct AuditVerification: ResponseEncodable, Equatable {
    struct Head: Codable, Equatable {
        var seq: Int64
        var hash: String
    }

    struct Checkpoint: Codable, Equatable {
        var seq: Int64
        var signedAt: Date
        var keyID: String
    }

    public var ok: Bool
    /// Entries checked (all of them when `ok`; those before the break otherwise).
    var entries: Int
    /// The first entry of the kept chain (1 unless retention removed older entries).
    var firstSeq: Int64?
    var head: Head?
    var checkpoints: Int?
    var lastCheckpoint: Checkpoint?
    var brokenAt: Int64?
    var problem: String?

    public init(_ report: AuditIntegrity.Report) {
        switch report {
        case .intact(let summary):
            ok = true
            entries = summary.entries
            firstSeq = summary.firstSeq
            head = summary.head.map { Head(seq: $0.seq, hash: Hex.encode($0.hash)) }
            checkpoints = summary.checkpoints
            lastCheckpoint = summary.lastCheckpoint.map {
                Checkpoint(seq: $0.seq, signedAt: $0.signedAt, keyID: AuditSigningKey.keyID($0.publicKey))
            }
        case .broken(let broken, let entries):
            ok = false
            self.entries = entries
            brokenAt = broken.seq
            problem = broken.problem
        }
    }
}
