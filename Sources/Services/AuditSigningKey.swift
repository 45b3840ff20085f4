import Crypto
import Domain
import Foundation

/// The Ed25519 key that signs audit checkpoints (`NEOSC_AUDIT_SIGNING_KEY`, or the one NeoSC keeps
/// in its data directory). Its text form is the base64 of the 32-byte private key; any 32 random
/// bytes make a key.
public struct AuditSigningKey: Sendable {
    private let key: Curve25519.Signing.PrivateKey

    public struct Invalid: Error, CustomStringConvertible {
        public var description: String {
            "the audit signing key must be the base64 of 32 bytes (an Ed25519 private key)"
        }
    }

    /// A new random key.
    public init() {
        key = Curve25519.Signing.PrivateKey()
    }

    /// The key whose text form is `base64` (surrounding blanks ignored).
    public init(base64: String) throws {
        guard let bytes = Data(base64Encoded: base64.trimmingCharacters(in: .whitespacesAndNewlines)),
            bytes.count == 32, let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: bytes)
        else { throw Invalid() }
        self.key = key
    }

    /// The text form: store it as a secret.
    public var base64: String { key.rawRepresentation.base64EncodedString() }

    /// The raw 32-byte public key, published at `GET /api/audit-logs/public-key`.
    public var publicKey: [UInt8] { Array(key.publicKey.rawRepresentation) }

    /// Signs "entry `seal.seq` has hash `seal.hash`" at `signedAt`.
    public func checkpoint(_ kind: AuditCheckpoint.Kind, at seal: AuditSeal, signedAt: Date) throws -> AuditCheckpoint {
        let signedAt = AuditCheckpoint.normalized(signedAt)
        let signature = try key.signature(
            for: AuditCheckpoint.message(kind: kind, seq: seal.seq, hash: seal.hash, signedAt: signedAt))
        return AuditCheckpoint(
            kind: kind, seq: seal.seq, hash: seal.hash, signedAt: signedAt, publicKey: publicKey,
            signature: Array(signature))
    }

    /// A public key in its text form (base64 of 32 bytes), as `NEOSC_AUDIT_TRUSTED_KEYS` lists them.
    public static func publicKey(base64: String) throws -> [UInt8] {
        guard let bytes = Data(base64Encoded: base64.trimmingCharacters(in: .whitespacesAndNewlines)),
            (try? Curve25519.Signing.PublicKey(rawRepresentation: bytes)) != nil
        else {
            throw Invalid()
        }
        return Array(bytes)
    }

    /// A short name for a public key: the first 8 bytes of its SHA-256, in hex.
    public static func keyID(_ publicKey: [UInt8]) -> String {
        Hex.encode(Array(SHA256.hash(data: publicKey).prefix(8)))
    }
}
