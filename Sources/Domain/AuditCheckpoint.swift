import Crypto
import Foundation

/// A signed statement about the audit chain at one moment: "entry `seq` has hash `hash`".
/// A `head` checkpoint pins what was written, so removing entries up to it is detected; a
/// `retention` checkpoint records where the kept chain starts after older entries were removed
/// (its `seq` and `hash` are those of the last removed entry).
public struct AuditCheckpoint: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case head
        case retention
    }

    public var kind: Kind
    public var seq: Int64
    public var hash: [UInt8]
    public var signedAt: Date
    /// The raw 32-byte Ed25519 public key that made `signature`.
    public var publicKey: [UInt8]
    public var signature: [UInt8]

    public init(kind: Kind, seq: Int64, hash: [UInt8], signedAt: Date, publicKey: [UInt8], signature: [UInt8]) {
        self.kind = kind
        self.seq = seq
        self.hash = hash
        self.signedAt = signedAt
        self.publicKey = publicKey
        self.signature = signature
    }

    /// The bytes the signature covers (docs/audit.md): `"neosc-audit-checkpoint-v1" 0x00 ‖ kind ‖
    /// 0x00 ‖ seq (8 bytes, big-endian) ‖ hash (32 bytes) ‖ signed_at in milliseconds (8 bytes,
    /// big-endian)`.
    public static func message(kind: Kind, seq: Int64, hash: [UInt8], signedAt: Date) -> [UInt8] {
        var bytes = Array("neosc-audit-checkpoint-v1".utf8) + [0] + Array(kind.rawValue.utf8) + [0]
        withUnsafeBytes(of: seq.bigEndian) { bytes += $0 }
        bytes += hash
        withUnsafeBytes(of: AuditChain.milliseconds(signedAt).bigEndian) { bytes += $0 }
        return bytes
    }

    /// `signedAt` in whole milliseconds, as the signature covers it and every store keeps it.
    public static func normalized(_ date: Date) -> Date {
        Date(timeIntervalSince1970: Double(AuditChain.milliseconds(date)) / 1_000)
    }

    /// True when `signature` is `publicKey`'s Ed25519 signature of this checkpoint.
    public var isSignatureValid: Bool {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey) else { return false }
        return key.isValidSignature(signature, for: Self.message(kind: kind, seq: seq, hash: hash, signedAt: signedAt))
    }
}
