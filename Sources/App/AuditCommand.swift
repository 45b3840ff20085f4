import ArgumentParser
import Domain
import Foundation
import Logging
import NIOPosix
import Net
import SQLiteStore
import Services

/// `neosc audit …`: check the audit trail offline, and manage the key that signs its checkpoints.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Verify the audit trail; make and show audit signing keys.",
        subcommands: [Verify.self, NewKey.self, PublicKey.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Walk the audit chain and its signed checkpoints, on the configured store or a copy of the data file.",
            discussion: """
                Prints {"ok": true, ...} and exits 0 when the trail is intact; prints where it first breaks \
                and exits 1 otherwise. Checkpoints count when signed by the configured signing key \
                (NEOSC_AUDIT_SIGNING_KEY, or the data directory's), NEOSC_AUDIT_TRUSTED_KEYS or --public-key.
                """)

        @Option(help: "An embedded data file to verify instead of the configured store (a copy is fine).")
        var dataFile: String?

        @Option(help: "A trusted public key (base64 of 32 bytes); may be repeated.")
        var publicKey: [String] = []

        @Option(help: "An entry noted earlier, <seq>:<hash> (a head this command or the API reported), that the trail must still hold.")
        var expect: String?

        func validate() throws {
            if let expect, AuditIntegrity.expectedEntry(expect) == nil {
                throw ValidationError("--expect must be <seq>:<hash>, the hash in 64 hex digits")
            }
        }

        func run() async throws {
            let configuration = try Configuration.fromEnvironment()
            _ = configuration.bootstrapLogging()
            var trusted = configuration.auditTrustedKeys
            for key in publicKey {
                do {
                    trusted.append(try AuditSigningKey.publicKey(base64: key))
                } catch {
                    throw ValidationError("--public-key must be a base64 Ed25519 public key (32 bytes), got '\(key)'")
                }
            }
            if let own = try configuration.existingAuditSigningKey() { trusted.append(own.publicKey) }
            let store: any Store
            if let dataFile {
                guard FileManager.default.fileExists(atPath: dataFile) else {
                    throw ValidationError("no data file at \(dataFile)")
                }
                store = try await SQLiteStore.open(
                    path: dataFile, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "neosc"))
            } else {
                store = try await Wiring.openStore(configuration, logger: Logger(label: "neosc"), seeding: false)
            }
            let report: AuditIntegrity.Report
            do {
                report = try await AuditIntegrity.verify(store, trusting: trusted, expected: expect.flatMap(AuditIntegrity.expectedEntry))
                try await store.close()
            } catch {
                try? await store.close()
                throw error
            }
            let verification = AuditVerification(report)
            let encoder = PortalJSON.encoder
            encoder.outputFormatting.insert(.prettyPrinted)
            print(String(decoding: try encoder.encode(verification), as: UTF8.self))
            if !verification.ok { throw ExitCode(1) }
        }
    }

    struct NewKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "new-key",
            abstract: "Print a new audit signing key (for NEOSC_AUDIT_SIGNING_KEY); keep it secret.")

        func run() async throws {
            print(AuditSigningKey().base64)
        }
    }

    struct PublicKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "public-key",
            abstract: "Print the public key of the configured audit signing key (for NEOSC_AUDIT_TRUSTED_KEYS elsewhere).")

        func run() async throws {
            let configuration = try Configuration.fromEnvironment()
            guard let key = try configuration.existingAuditSigningKey() else {
                throw CommandFailure("no audit signing key: NEOSC_AUDIT_SIGNING_KEY is unset and the data directory holds none")
            }
            print(Data(key.publicKey).base64EncodedString())
        }
    }
}
