import Crypto
import Domain
import Foundation
import Testing

/// The audit chain's rule and its verification, on entries in memory.
@Suite struct AuditChainTests {
    static let start = Date(timeIntervalSince1970: 1_795_509_000)  // 2026-11-24T08:30:00Z

    /// Entries 1…count, sealed one after another.
    static func chain(_ count: Int) -> [AuditEvent] {
        var events: [AuditEvent] = []
        var previous = AuditChain.genesis
        for index in 0..<count {
            let event = AuditEvent(
                id: "aud-\(index)", timestamp: start + Double(index) + 0.25, userID: "usr-\(index % 3)", userEmail: nil,
                action: index.isMultiple(of: 2) ? .login : .launchWorkspace, resourceType: "workspace", resourceID: "ws-\(index)",
                details: ["n": String(index)], ipAddress: "192.0.2.\(index % 250)", success: !index.isMultiple(of: 5))
            let sealed = AuditChain.sealed(event, seq: Int64(index + 1), after: previous)
            previous = sealed.seal!.hash
            events.append(sealed)
        }
        return events
    }

    static let key = Curve25519.Signing.PrivateKey()

    static func checkpoint(
        at event: AuditEvent, kind: AuditCheckpoint.Kind = .head, key: Curve25519.Signing.PrivateKey = key
    ) throws -> AuditCheckpoint {
        let signedAt = AuditCheckpoint.normalized(start + 3_600)
        let seal = event.seal!
        let signature = try key.signature(
            for: AuditCheckpoint.message(kind: kind, seq: seal.seq, hash: seal.hash, signedAt: signedAt))
        return AuditCheckpoint(
            kind: kind, seq: seal.seq, hash: seal.hash, signedAt: signedAt,
            publicKey: Array(key.publicKey.rawRepresentation), signature: Array(signature))
    }

    /// Runs the verification over `events` as a store would hand them over, in `seq` order.
    static func verify(
        _ events: [AuditEvent], checkpoints: [AuditCheckpoint] = [],
        trusted: [[UInt8]] = [Array(key.publicKey.rawRepresentation)]
    ) -> Result<AuditChainVerification.Summary, AuditChainVerification.Break> {
        Result { () throws(AuditChainVerification.Break) in
            var walk = try AuditChainVerification(checkpoints: checkpoints, trustedKeys: trusted)
            for event in events.sorted(by: { ($0.seal?.seq ?? 0) < ($1.seal?.seq ?? 0) }) { try walk.check(event) }
            return try walk.finish()
        }
    }

    /// The same bytes as the reference implementation for auditors (scripts/verify-audit-export,
    /// Python's hashlib), so the Swift and the documented definitions cannot drift apart.
    @Test func hashesMatchTheReferenceImplementation() {
        let first = AuditChain.sealed(
            AuditEvent(
                id: "aud-vector-1", timestamp: Self.start + 0.9, userID: "usr-1", userEmail: "ana@example.com", action: .login,
                details: ["method": "password", "ü": "ö", "a": ""], ipAddress: "192.0.2.7", success: true),
            seq: 1, after: AuditChain.genesis)
        #expect(Hex.encode(first.seal!.hash) == "23a53de47c941ee07105286f9c68870d5b56887fd7b6d31e6e9884706bed1ec1")
        let second = AuditChain.sealed(
            AuditEvent(
                id: "aud-vector-2", timestamp: Self.start + 1, userID: nil, userEmail: nil, action: .accessDenied,
                ipAddress: nil, success: false),
            seq: 2, after: first.seal!.hash)
        #expect(Hex.encode(second.seal!.hash) == "b6ee1067defd804b5d860ab6d3ea9d8e9673920a680c576a88049de22ff502e3")
        #expect(second.seal!.prevHash == first.seal!.hash)
    }

    @Test func sealingKeepsWholeMillisecondsAndEveryField() {
        let event = AuditEvent(
            timestamp: Date(timeIntervalSince1970: 1_795_509_000.123_6), userID: nil, userEmail: nil, action: .login,
            ipAddress: nil, success: true)
        let sealed = AuditChain.sealed(event, seq: 7, after: AuditChain.genesis)
        #expect(AuditChain.milliseconds(sealed.timestamp) == 1_795_509_000_124)
        #expect(sealed.seal?.seq == 7)
        #expect(sealed.id == event.id && sealed.action == event.action)
    }

    @Test func anIntactChainVerifies() throws {
        let events = Self.chain(30)
        let summary = try Self.verify(events, checkpoints: [try Self.checkpoint(at: events[9]), try Self.checkpoint(at: events[29])]).get()
        #expect(summary.entries == 30)
        #expect(summary.head == events.last?.seal)
        #expect(summary.firstSeq == 1)
        #expect(summary.checkpoints == 2)
        #expect(summary.lastCheckpoint?.seq == 30)
        #expect(try Self.verify([]).get().entries == 0, "an empty trail is intact")
    }

    /// Every field the hash covers: a change to any of them is found at that entry.
    @Test(arguments: ["id", "timestamp", "user", "email", "action", "resource", "address", "success", "details", "detail key"])
    func anEditedEntryIsFound(_ field: String) {
        var events = Self.chain(10)
        var edited = events[4]
        switch field {
        case "id": edited.id = "aud-forged"
        case "timestamp": edited.timestamp += 60
        case "user": edited.userID = "usr-admin"
        case "email": edited.userEmail = "someone@example.com"
        case "action": edited.action = .logout
        case "resource": edited.resourceID = nil
        case "address": edited.ipAddress = "198.51.100.1"
        case "success": edited.success.toggle()
        case "details": edited.details["n"] = "40"
        default: edited.details["extra"] = ""
        }
        events[4] = edited
        guard case .failure(let broken) = Self.verify(events) else {
            Issue.record("an edit of \(field) went unnoticed")
            return
        }
        #expect(broken.seq == 5)
        #expect(broken.problem.contains("do not match its hash"))
    }

    @Test func aRemovedEntryIsFound() {
        var events = Self.chain(10)
        events.remove(at: 6)
        guard case .failure(let broken) = Self.verify(events) else {
            Issue.record("removal unnoticed")
            return
        }
        #expect(broken.seq == 7)
        #expect(broken.problem.contains("missing"))
    }

    @Test func swappedEntriesAreFound() {
        var events = Self.chain(10)
        // Two entries trade places, each keeping its own seal: the first of them no longer links.
        let third = events[2]
        events[2].seal = events[5].seal
        events[5].seal = third.seal
        guard case .failure(let broken) = Self.verify(events) else {
            Issue.record("reordering unnoticed")
            return
        }
        #expect(broken.seq == 3)
    }

    @Test func aRehashedEditIsFoundAtTheNextLink() {
        // Whoever edits an entry and recomputes its hash breaks the next entry's link instead.
        var events = Self.chain(10)
        var edited = events[3]
        edited.userID = "usr-admin"
        events[3] = AuditChain.sealed(edited, seq: 4, after: events[2].seal!.hash)
        guard case .failure(let broken) = Self.verify(events) else {
            Issue.record("unnoticed")
            return
        }
        #expect(broken.seq == 5)
        #expect(broken.problem.contains("prev_hash"))
    }

    @Test func aRewrittenTailIsFoundByItsCheckpoint() throws {
        // The whole chain recomputed after an edit links again, but no longer matches what was signed.
        let original = Self.chain(10)
        let checkpoint = try Self.checkpoint(at: original[7])
        var rewritten = Array(original.prefix(3))
        for event in original.dropFirst(3) {
            var changed = event
            if event.seal!.seq == 4 { changed.userID = "usr-admin" }
            rewritten.append(AuditChain.sealed(changed, seq: event.seal!.seq, after: rewritten.last!.seal!.hash))
        }
        guard case .failure(let broken) = Self.verify(rewritten, checkpoints: [checkpoint]) else {
            Issue.record("rewrite unnoticed")
            return
        }
        #expect(broken.seq == 8)
        #expect(broken.problem.contains("checkpoint"))
    }

    @Test func entriesRemovedUpToACheckpointAreFound() throws {
        let events = Self.chain(10)
        let checkpoint = try Self.checkpoint(at: events[7])
        guard case .failure(let broken) = Self.verify(Array(events.prefix(5)), checkpoints: [checkpoint]) else {
            Issue.record("truncation unnoticed")
            return
        }
        #expect(broken.seq == 6)
        #expect(broken.problem.contains("removed from the end"))
        // Entries after the newest checkpoint are not pinned by anything: removing them alone is
        // what a checkpoint interval leaves open (docs/audit.md).
        #expect((try? Self.verify(Array(events.prefix(9)), checkpoints: [checkpoint]).get()) != nil)
    }

    @Test func checkpointsNeedAValidSignatureByATrustedKey() throws {
        let events = Self.chain(5)
        var forged = try Self.checkpoint(at: events[2])
        forged.seq = 4
        forged.hash = events[3].seal!.hash
        guard case .failure(let invalid) = Self.verify(events, checkpoints: [forged]) else {
            Issue.record("forgery accepted")
            return
        }
        #expect(invalid.problem.contains("invalid signature"))

        let stranger = try Self.checkpoint(at: events[2], key: Curve25519.Signing.PrivateKey())
        guard case .failure(let untrusted) = Self.verify(events, checkpoints: [stranger]) else {
            Issue.record("a stranger's checkpoint accepted")
            return
        }
        #expect(untrusted.problem.contains("not trusted"))
        #expect(
            (try? Self.verify(events, checkpoints: [stranger], trusted: [stranger.publicKey]).get()) != nil,
            "trusted once its key is listed")
    }

    @Test func retentionStartsTheChainAfterItsCheckpoint() throws {
        let events = Self.chain(10)
        let anchor = try Self.checkpoint(at: events[3], kind: .retention)
        let summary = try Self.verify(Array(events.dropFirst(4)), checkpoints: [anchor]).get()
        #expect(summary.firstSeq == 5)
        #expect(summary.entries == 6)
        // Without the signed anchor, the same kept entries are a chain with its start missing.
        #expect((try? Self.verify(Array(events.dropFirst(4))).get()) == nil)
        // An anchor does not hide a removal after it.
        var gapped = Array(events.dropFirst(4))
        gapped.remove(at: 2)
        #expect((try? Self.verify(gapped, checkpoints: [anchor]).get()) == nil)
    }
}

extension AuditChainTests {
    @Test func aRemovedCheckpointIsFoundWhenCheckpointsAreRequired() throws {
        let events = Self.chain(3_500)
        let every = try [999, 1_999, 2_999].map { try Self.checkpoint(at: events[$0]) }
        func verify(_ checkpoints: [AuditCheckpoint]) -> Result<AuditChainVerification.Summary, AuditChainVerification.Break> {
            Result { () throws(AuditChainVerification.Break) in
                var walk = try AuditChainVerification(
                    checkpoints: checkpoints, trustedKeys: [Array(Self.key.publicKey.rawRepresentation)], checkpointInterval: 1_000)
                for event in events { try walk.check(event) }
                return try walk.finish()
            }
        }
        #expect((try? verify(every).get()) != nil)
        // The newest interval may still be waiting for its checkpoint.
        #expect((try? verify(Array(every.prefix(2))).get()) != nil)
        guard case .failure(let broken) = verify([every[0], every[2]]) else {
            Issue.record("a removed checkpoint went unnoticed")
            return
        }
        #expect(broken.seq == 2_000 && broken.problem.contains("no signed checkpoint"))
    }

    @Test func anExpectedEntryMustStillBeThere() throws {
        let events = Self.chain(10)
        func verify(_ events: [AuditEvent], expecting expected: (seq: Int64, hash: [UInt8])) -> AuditChainVerification.Break? {
            do throws(AuditChainVerification.Break) {
                var walk = try AuditChainVerification(checkpoints: [], trustedKeys: [], expected: expected)
                for event in events { try walk.check(event) }
                _ = try walk.finish()
                return nil
            } catch {
                return error
            }
        }
        let head = events[9].seal!
        #expect(verify(events, expecting: (head.seq, head.hash)) == nil)
        #expect(verify(Array(events.prefix(8)), expecting: (head.seq, head.hash))?.problem.contains("removed from the end") == true)
        #expect(verify(events, expecting: (head.seq, events[8].seal!.hash))?.seq == 10)
    }
}
