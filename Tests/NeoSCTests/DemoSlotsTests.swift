import Domain
import Foundation
import Testing

@testable import MongoStore

/// On MongoDB the active-demo limits are slots (`MongoStore+DemoSlots`): what the slots may miss
/// or keep too long, and what they do about it. The race itself is a conformance test
/// (`StoreConformanceTests.demoLimitsHoldWhenReplicasStartDemosAtOnce`).
@Suite struct DemoSlotsTests {
    private static func demo(_ id: String, from address: String, createdAt: Date = Date()) -> DemoSession {
        DemoSession(
            id: id, userID: "usr-\(id)", workspaceID: "ws-browser", workspaceType: "browser", contactEmail: nil,
            clientAddress: address, createdAt: createdAt, expiresAt: createdAt + 1_800, maxExpiresAt: createdAt + 7_200)
    }

    /// The demo ids holding slots of all demos', in order.
    private static func slotHolders(_ mongo: MongoStore) async throws -> [String]? {
        try await mongo.database.findOne("demo_slots", ["_id": .string("all")])?["slots"]?.array?.compactMap { $0.document?["id"]?.string }
    }

    private static func starts(_ demo: DemoSession, in store: MongoStore, limit: Int = 3, perAddressLimit: Int = 3) async throws -> Bool {
        do {
            try await store.insert(demo, limit: limit, perAddressLimit: perAddressLimit)
            return true
        } catch DomainError.rateLimited {
            return false
        }
    }

    @Test("demos active before there were slots count against the limits", arguments: [StoreKind.mongo, .mongoStandalone])
    func demosFromBeforeTheSlotsCount(_ kind: StoreKind) async throws {
        try await Harness.withStore(kind) { store in
            let mongo = try #require(store as? MongoStore)
            // As a deployment that ran demos before this version has them: no slot held.
            for (index, address) in ["192.0.2.1", "192.0.2.2"].enumerated() {
                try await mongo.database.insert("demo_sessions", MongoStore.document(Self.demo("demo-old-\(index)", from: address)))
            }
            try await mongo.database.insert("demo_sessions", MongoStore.document(Self.demo("demo-same", from: "203.0.113.9")))
            #expect(try await Self.starts(Self.demo("demo-new", from: "198.51.100.1"), in: mongo, limit: 4, perAddressLimit: 1))
            #expect(try await !Self.starts(Self.demo("demo-over", from: "198.51.100.2"), in: mongo, limit: 4, perAddressLimit: 1))
            #expect(try await store.activeDemoCount() == 4)
            // The client's own count takes in its earlier demo too.
            let started = try await Self.starts(Self.demo("demo-client", from: "203.0.113.9"), in: mongo, limit: 10, perAddressLimit: 1)
            #expect(!started, "the address already runs a demo")
            #expect(try await Self.slotHolders(mongo)?.contains("demo-client") == false, "the refused start holds no slot of all demos'")
            #expect(try await Self.starts(Self.demo("demo-last", from: "198.51.100.3"), in: mongo, limit: 5, perAddressLimit: 1))
        }
    }

    @Test("a client's slots go once empty, and come back counting its demos")
    func aClientsSlotsGoOnceEmpty() async throws {
        try await Harness.withStore(.mongo) { store in
            let mongo = try #require(store as? MongoStore)
            let now = Date()
            #expect(try await Self.starts(Self.demo("demo-a", from: "2001:db8:7:1::1"), in: mongo, perAddressLimit: 2))
            #expect(try await Self.starts(Self.demo("demo-b", from: "2001:db8:7:1::2"), in: mongo, perAddressLimit: 2))
            let client = "client:2001:db8:7:1::/64"
            #expect(try await mongo.database.findOne("demo_slots", ["_id": .string(client)]) != nil)
            for id in ["demo-a", "demo-b"] {
                _ = try await store.claimCleanup(id: id, replica: "r", endingAs: .ended, at: now, leaseUntil: now + 60)
            }
            #expect(try await mongo.database.findOne("demo_slots", ["_id": .string(client)]) == nil, "freed, and gone")
            #expect(try await Self.slotHolders(mongo) == [], "all demos' document stays")
            #expect(try await Self.starts(Self.demo("demo-c", from: "2001:db8:7:1::3"), in: mongo, perAddressLimit: 1))
            #expect(try await !Self.starts(Self.demo("demo-d", from: "2001:db8:7:1::4"), in: mongo, perAddressLimit: 1))
        }
    }

    @Test("a slot whose demo stopped being active, or was never inserted a minute after its claim, is reclaimed; a fresh claim is not")
    func abandonedSlotsAreReclaimed() async throws {
        try await Harness.withStore(.mongo) { store in
            let mongo = try #require(store as? MongoStore)
            let now = Date()
            #expect(try await Self.starts(Self.demo("demo-a", from: "192.0.2.1"), in: mongo, limit: 2))
            #expect(try await Self.starts(Self.demo("demo-b", from: "192.0.2.2"), in: mongo, limit: 2))
            #expect(try await !Self.starts(Self.demo("demo-c", from: "192.0.2.3"), in: mongo, limit: 2), "full")
            // demo-a ends behind the slots' back (as when the release after its clean-up's claim failed).
            _ = try await mongo.database.update("demo_sessions", ["_id": .string("demo-a")], ["$set": .document(["status": .string("expired")])])
            #expect(try await Self.starts(Self.demo("demo-c", from: "192.0.2.3"), in: mongo, limit: 2), "demo-a's slot reclaimed")

            // A claim whose demo never appeared (in demo-b's place, ended): kept while its demo may
            // still be on its way, freed a minute after the claim.
            _ = try await mongo.database.update("demo_sessions", ["_id": .string("demo-b")], ["$set": .document(["status": .string("expired")])])
            let stray = BSON.document(["id": .string("demo-never"), "at": .date(now)])
            #expect(try await Self.slotHolders(mongo) == ["demo-b", "demo-c"])
            _ = try await mongo.database.update("demo_slots", ["_id": .string("all")], ["$set": .document(["slots.0": stray])])
            do {
                try await mongo.insert(Self.demo("demo-d", from: "192.0.2.4", createdAt: now + 1), limit: 2, perAddressLimit: 3)
                Issue.record("a claim just made holds its slot")
            } catch DomainError.rateLimited(_, let retryAfter) {
                // Not counted among the active demos: the answer is when the claim could be reclaimed.
                #expect((58...60).contains(retryAfter), "\(retryAfter)")
            }
            #expect(try await Self.starts(Self.demo("demo-d", from: "192.0.2.4", createdAt: now + 61), in: mongo, limit: 2))
            #expect(try await Self.slotHolders(mongo)?.sorted() == ["demo-c", "demo-d"])

            // A claim marked stored whose demo is gone is its start undoing it: never taken as
            // abandoned, however old (in demo-c's place, ended).
            _ = try await mongo.database.update("demo_sessions", ["_id": .string("demo-c")], ["$set": .document(["status": .string("expired")])])
            let undoing = BSON.document(["id": .string("demo-undoing"), "at": .date(now), "stored": .bool(true)])
            _ = try await mongo.database.update(
                "demo_slots", ["_id": .string("all"), "slots.id": .string("demo-c")], ["$set": .document(["slots.$": undoing])])
            #expect(try await !Self.starts(Self.demo("demo-e", from: "192.0.2.5", createdAt: now + 600), in: mongo, limit: 2))
            #expect(try await Self.slotHolders(mongo)?.sorted() == ["demo-d", "demo-undoing"])
        }
    }
}
