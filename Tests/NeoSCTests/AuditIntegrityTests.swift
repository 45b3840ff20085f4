import Actors
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import TestSupport
import Testing

@testable import App
@testable import Net
@testable import Services

/// The audit chain through the API (issue #14): verification for administrators, the public key
/// for anyone, checkpoints as entries accumulate, and an export an auditor checks without NeoSC.
@Suite("Audit integrity")
struct AuditIntegrityTests {
    @Test("administrators verify the trail (audited); others are refused (audited too)")
    func verifyIsForAdministrators() async throws {
        try await Harness.run { harness, client in
            let (admin, adminToken) = try await harness.account(.admin)
            let (_, memberToken) = try await harness.account(.neosc)
            for index in 0..<5 {
                try await harness.portal.auditTrail.record(
                    .launchWorkspace, by: .system(onAccount: admin.id, email: admin.email), details: ["n": "\(index)"])
            }
            let refused = try await client.send(.get, "/api/audit-logs/verify", token: memberToken)
            #expect(refused.status == .forbidden)
            #expect(try await client.send(.get, "/api/audit-logs/verify").status == .unauthorized)

            let hash = String(repeating: "a", count: 64)
            // The seq as the documented pattern has it: no sign, no leading zero, at most 18 digits.
            // (A 19-digit one the pattern once allowed was refused when it did not fit an Int64.)
            let seqs = ["0", "+5", "05", "-5", "9861145943572841048", "1000000000000000000", "x"]
            for malformed in ["", "5", "5:abc", "5:" + hash + "a"] + seqs.map({ "\($0):\(hash)" }) {
                let refused = try await client.send(.get, "/api/audit-logs/verify?expect=\(malformed)", token: adminToken)
                #expect(refused.status == .unprocessableContent, "expect=\(malformed): \(refused.status)")
            }
            let reply = try await client.send(.get, "/api/audit-logs/verify", token: adminToken)
            #expect(reply.status == .ok, "\(reply.text)")
            let report = try reply.decoded(VerificationBody.self)
            #expect(report.ok && report.entries == 6, "five entries and the refusal: \(reply.text)")
            #expect(report.head?.seq == 6 && report.firstSeq == 1)

            let entries = try await client.send(.get, "/api/audit-logs?limit=500", token: adminToken).decoded([AuditEntryBody].self)
            #expect(entries.first?.action == "audit_verified" && entries.first?.details["ok"] == "true")
            #expect(entries.contains { $0.action == "access_denied" && $0.details["path"] == "/api/audit-logs/verify" })
            // Newest first, each linking to the one after it in the list.
            #expect(entries.map(\.seq) == Array((1...Int64(entries.count)).reversed()))
            for (newer, older) in zip(entries, entries.dropFirst()) { #expect(newer.prevHash == older.hash) }

            // The head as noted, its hash in either case, is still there; 18 digits parse, but no such entry.
            let head = try #require(report.head)
            let noted = try await client.send(.get, "/api/audit-logs/verify?expect=\(head.seq):\(head.hash.uppercased())", token: adminToken)
            #expect(try noted.decoded(VerificationBody.self).ok, "\(noted.text)")
            let far = try await client.send(.get, "/api/audit-logs/verify?expect=999999999999999999:\(head.hash)", token: adminToken)
            let farReport = try far.decoded(VerificationBody.self)
            #expect(far.status == .ok && !farReport.ok && farReport.problem?.contains("entries were removed from the end") == true, "\(far.text)")

            // A HEAD verifies nothing and audits no verification; its length is not claimed.
            let verified = try await harness.store.events(AuditQuery(action: .auditVerified)).count
            let headOnly = try await client.send(.head, "/api/audit-logs/verify", token: adminToken)
            #expect(headOnly.status == .ok && headOnly.text.isEmpty)
            #expect(headOnly.headers[.contentType]?.hasPrefix("application/json") == true)
            #expect(headOnly.headers[.contentLength] == nil, "not Content-Length: 0")
            #expect(try await harness.store.events(AuditQuery(action: .auditVerified)).count == verified)
            #expect(try await client.send(.head, "/api/audit-logs/verify", token: memberToken).status == .forbidden)
            #expect(try await client.send(.head, "/api/audit-logs/verify?expect=bad", token: adminToken).status == .unprocessableContent)
        }
    }

    @Test("while a verification runs, another is a 409, and so is its HEAD; neither is audited")
    func oneVerificationAtATime() async throws {
        try await Harness.run { harness, client in
            let (_, adminToken) = try await harness.account(.admin)
            let integrity = harness.portal.auditIntegrity
            #expect(await integrity.verifications.take(AuditIntegrity.verificationKey), "a verification under way")
            for method in [HTTPRequest.Method.get, .head] {
                let busy = try await client.send(method, "/api/audit-logs/verify", token: adminToken)
                #expect(busy.status == .conflict, "\(method): \(busy.status)")
                if method == .get { #expect(busy.text.contains("already running"), "\(busy.text)") }
            }
            #expect(try await harness.store.events(AuditQuery(action: .auditVerified)).isEmpty)
            await integrity.verifications.release(AuditIntegrity.verificationKey)
            #expect(try await client.send(.head, "/api/audit-logs/verify", token: adminToken).status == .ok)
            #expect(try await client.send(.get, "/api/audit-logs/verify", token: adminToken).status == .ok)
            #expect(!(await integrity.isVerifying), "released after the verification")
        }
    }

    @Test(
        "a NUL in what a caller sends (the e-mail a failed sign-in claims) is kept as U+FFFD: the chain stays whole",
        arguments: StoreKind.allCases)
    func aNULLeavesTheChainWhole(store: StoreKind) async throws {
        try await Harness.run(store: store) { harness, client in
            let (admin, adminToken) = try await harness.account(.admin)
            for path in ["/api/auth/login", "/api/auth/password"] {
                let claimed =
                    #"{"email":"\#(admin.email)\u0000\#(path)","password":"whatever-123","#
                    + #""current_password":"whatever-123","new_password":"another one, long enough"}"#
                let refused = try await client.send(.post, path, json: claimed)
                #expect(refused.status == .unauthorized, "\(path): \(refused.text)")
            }
            let reply = try await client.send(.get, "/api/audit-logs/verify", token: adminToken)
            #expect(try reply.decoded(VerificationBody.self).ok, "\(reply.text)")
            let entries = try await client.send(.get, "/api/audit-logs?limit=500", token: adminToken).decoded([AuditEntryBody].self)
            let claimedEmails = entries.filter { $0.action == "login_failed" }.compactMap(\.userEmail)
            // As a sign-in reads a claimed address: lower-cased.
            let claimant = admin.email.lowercased()
            #expect(Set(claimedEmails) == [claimant + "\u{FFFD}/api/auth/login", claimant + "\u{FFFD}/api/auth/password"])
        }
    }

    @Test("the public key needs no credential and checks the checkpoints the server signs")
    func publicKeyVerifiesCheckpoints() async throws {
        try await Harness.run { harness, client in
            let reply = try await client.send(.get, "/api/audit-logs/public-key")
            #expect(reply.status == .ok)
            let key = try reply.decoded(PublicKeyBody.self)
            let own = try harness.configuration.loadAuditSigningKey()
            #expect(key.algorithm == "Ed25519")
            #expect(Data(base64Encoded: key.publicKey).map(Array.init) == own.publicKey)
            #expect(key.trustedKeys == [key.publicKey])
            #expect(key.keyID == AuditSigningKey.keyID(own.publicKey))

            try await harness.portal.auditTrail.record(.login, by: .system(onAccount: nil, email: nil))
            let checkpoint = try #require(try await harness.portal.auditIntegrity.signHead())
            #expect(checkpoint.publicKey == own.publicKey && checkpoint.isSignatureValid)
        }
    }

    @Test("a checkpoint is signed when the chain reaches each 1,000th entry")
    func checkpointEveryThousandEntries() async throws {
        try await Harness.run { harness, _ in
            let trail = harness.portal.auditTrail
            // One transaction (one fsync, not a thousand: the suite's other real-clock tests run
            // beside this one); the checkpoint is signed once it has committed.
            try await trail.change {
                for index in 0..<1_000 {
                    try await trail.record(.login, by: .system(onAccount: "usr-\(index % 7)", email: nil))
                }
            }
            // Signed in the background by the server's checkpoint service.
            var signed: [AuditCheckpoint] = []
            _ = try await eventually {
                signed = try await harness.store.checkpoints()
                return signed.contains { $0.seq == 1_000 }
            }
            let thousandth = try #require(try await harness.store.chain(from: 1_000, limit: 1).first?.seal)
            #expect(signed.contains { $0.seq == 1_000 && $0.hash == thousandth.hash && $0.isSignatureValid }, "\(signed.map(\.seq))")
        }
    }

    @Test("a JSON-lines export verifies with the independent reference check; an edited line does not")
    func anExportVerifiesWithoutNeoSC() async throws {
        try await Harness.run { harness, client in
            let (admin, adminToken) = try await harness.account(.admin)
            for index in 0..<12 {
                try await harness.portal.auditTrail.record(
                    index.isMultiple(of: 3) ? .loginFailed : .launchWorkspace, by: .system(onAccount: admin.id, email: admin.email),
                    from: "192.0.2.\(index)", success: !index.isMultiple(of: 3), resource: ("workspace", "ws-\(index)"),
                    details: ["note": "ünïcødé, \"quoted\"\nline \(index)", "n": "\(index)"])
            }
            let export = try await client.send(.get, "/api/audit-logs/export?format=jsonl", token: adminToken)
            #expect(export.status == .ok)
            let file = harness.directory.appendingPathComponent("export.jsonl")
            try export.text.write(to: file, atomically: true, encoding: .utf8)
            let intact = try await Self.referenceCheck(file)
            #expect(intact.status == 0, "\(intact.output) \(intact.errors)")
            // Twelve entries and the export's own `audit_exported`.
            #expect(intact.output.contains(#""ok": true"#) && intact.output.contains(#""entries": 13"#), "\(intact.output)")

            // A later run of the trail checks from an entry noted before, never taken on trust.
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            let entries = try export.text.split(separator: "\n").map {
                try decoder.decode(AuditEntryBody.self, from: Data($0.utf8))
            }
            let sixth = try #require(entries.first { $0.seq == 6 })
            let tail = export.text.split(separator: "\n").filter { line in
                entries.first { line.contains(#""id":"\#($0.id)""#) }.map { $0.seq > 6 } ?? false
            }
            try (tail.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
            #expect(try await Self.referenceCheck(file, from: "6:\(sixth.hash)").status == 0)
            #expect(try await Self.referenceCheck(file).status == 1, "a run that does not start at entry 1 needs --from")
            #expect(try await Self.referenceCheck(file, from: "6:\(String(repeating: "0", count: 64))").status == 1)

            var lines = export.text.split(separator: "\n").map(String.init)
            let index = try #require(lines.firstIndex { $0.contains(#""seq":5,"#) })
            lines[index] = lines[index].replacingOccurrences(of: #""n":"4""#, with: #""n":"40""#)
            try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
            let broken = try await Self.referenceCheck(file)
            #expect(broken.status == 1, "\(broken.output)")
            #expect(broken.output.contains(#""broken_at": 5"#), "\(broken.output)")
        }
    }

    static func referenceCheck(_ file: URL, from anchor: String? = nil) async throws -> ChildProcess.Outcome {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/verify-audit-export")
        return try await ChildProcess.run(
            "verify-audit-export", executable: URL(fileURLWithPath: "/usr/bin/python3"),
            arguments: [script.path] + (anchor.map { ["--from", $0] } ?? []) + [file.path])
    }

    struct VerificationBody: Decodable {
        struct Head: Decodable {
            let seq: Int64
            let hash: String
        }
        let ok: Bool
        let entries: Int
        let firstSeq: Int64?
        let head: Head?
        let brokenAt: Int64?
        let problem: String?

        enum CodingKeys: String, CodingKey {
            case ok, entries, head, problem
            case firstSeq = "first_seq"
            case brokenAt = "broken_at"
        }
    }

    struct PublicKeyBody: Decodable {
        let algorithm: String
        let publicKey: String
        let keyID: String
        let trustedKeys: [String]

        enum CodingKeys: String, CodingKey {
            case algorithm
            case publicKey = "public_key"
            case keyID = "key_id"
            case trustedKeys = "trusted_keys"
        }
    }
}
