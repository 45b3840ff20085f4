import Domain
import Foundation

/// Demo sessions. The clean-up claim is one conditional `findAndModify`, so of several replicas
/// exactly one wins it; the creation limits are slots claimed before the insert
/// (`MongoStore+DemoSlots`), so replicas racing at a limit cannot overshoot it.
extension MongoStore: DemoStore {
    public func insert(_ demo: DemoSession, limit: Int, perAddressLimit: Int) async throws {
        try await insertHoldingSlots(demo, limit: limit, perAddressLimit: perAddressLimit)
    }

    public func recordProvisioning(of demo: DemoSession) async throws -> DemoSession? {
        try await database.findAndModify(
            "demo_sessions", ["_id": .string(demo.id), "status": .string(DemoSession.Status.active.rawValue)],
            update: [
                "$set": .document([
                    "connection_url": .optional(demo.connectionURL), "network_peer_id": .optional(demo.networkPeerID),
                ])
            ]
        ).map(Self.demo)
    }

    public func demo(id: String) async throws -> DemoSession? {
        try await database.findOne("demo_sessions", ["_id": .string(id)]).map(Self.demo)
    }

    public func demo(userID: String) async throws -> DemoSession? {
        try await database.findOne("demo_sessions", ["user_id": .string(userID)]).map(Self.demo)
    }

    public func activeDemo(contactEmail: String) async throws -> DemoSession? {
        try await database.find(
            "demo_sessions", ["contact_email": .string(contactEmail), "status": .string(DemoSession.Status.active.rawValue)],
            sort: ["created_at": .int(-1), "_id": .int(1)], limit: 1
        ).first.map(Self.demo)
    }

    public func demos(userID: String?, limit: Int) async throws -> [DemoSession] {
        let filter: BSONDocument = userID.map { ["user_id": .string($0)] } ?? [:]
        return try await database.find(
            "demo_sessions", filter, sort: ["created_at": .int(-1), "_id": .int(1)], limit: limit
        ).map(Self.demo)
    }

    public func unfinishedDemos() async throws -> [DemoSession] {
        try await database.find(
            "demo_sessions", ["status": .document(["$in": .array([.string("active"), .string("expiring")])])]
        ).map(Self.demo)
    }

    public func activeDemoCount() async throws -> Int {
        try await database.count("demo_sessions", ["status": .string("active")])
    }

    public func extend(id: String, from previous: Date, to expiresAt: Date) async throws -> DemoSession? {
        try await database.findAndModify(
            "demo_sessions", ["_id": .string(id), "status": .string("active"), "expires_at": .date(previous)],
            update: ["$set": .document(["expires_at": .date(expiresAt)])]
        ).map(Self.demo)
    }

    public func claimCleanup(
        id: String, replica: String, endingAs: DemoSession.Status, at now: Date, leaseUntil: Date
    ) async throws -> DemoSession? {
        var due: BSONDocument = ["status": .string("active")]
        if endingAs != .ended { due["expires_at"] = .document(["$lte": .date(now)]) }
        let abandoned: BSONDocument = [
            "status": .string("expiring"),
            "$or": .array([.document(["claimed_until": .null]), .document(["claimed_until": .document(["$lte": .date(now)])])]),
        ]
        let query: BSONDocument = ["_id": .string(id), "$or": .array([.document(due), .document(abandoned)])]
        guard
            let claimed = try await database.findAndModify(
                "demo_sessions", query,
                update: [
                    "$set": .document([
                        "status": .string("expiring"), "claimed_by": .string(replica), "claimed_until": .date(leaseUntil),
                    ])
                ])
        else { return nil }
        var demo = try Self.demo(claimed)
        // No longer active: it stops counting against the limits (a release that fails is
        // reclaimed when the slots are full).
        try? await releaseDemoSlots(Self.demoSlotKeys(of: demo), demoID: demo.id)
        if demo.endingAs == nil {
            // First claim: record why it ends (an early end or the deadline); a resumed claim keeps it.
            _ = try await database.update(
                "demo_sessions", ["_id": .string(id), "ending_as": .null],
                ["$set": .document(["ending_as": .string(endingAs.rawValue)])])
            demo.endingAs = endingAs
        }
        return demo
    }

    public func renewClaim(id: String, replica: String, leaseUntil: Date) async throws -> Bool {
        try await database.update(
            "demo_sessions", ["_id": .string(id), "status": .string("expiring"), "claimed_by": .string(replica)],
            ["$set": .document(["claimed_until": .date(leaseUntil)])]
        ).matched == 1
    }

    public func completeStep(_ step: DemoCleanupStep, id: String, replica: String, leaseUntil: Date) async throws -> Bool {
        try await database.update(
            "demo_sessions", ["_id": .string(id), "status": .string("expiring"), "claimed_by": .string(replica)],
            [
                "$set": .document(["claimed_until": .date(leaseUntil)]),
                "$addToSet": .document(["completed_steps": .string(step.rawValue)]),
            ]
        ).matched == 1
    }

    public func finish(id: String, replica: String, at now: Date) async throws -> DemoSession? {
        guard let current = try await demo(id: id), current.status == .expiring, current.claimedBy == replica else {
            return nil
        }
        let final = current.endingAs == .ended ? DemoSession.Status.ended : .expired
        return try await database.findAndModify(
            "demo_sessions", ["_id": .string(id), "status": .string("expiring"), "claimed_by": .string(replica)],
            update: [
                "$set": .document([
                    "status": .string(final.rawValue), "ended_at": .date(now), "claimed_until": .null,
                ]),
                "$addToSet": .document(["completed_steps": .string(DemoCleanupStep.markFinished.rawValue)]),
            ]
        ).map(Self.demo)
    }

    static func document(_ demo: DemoSession) -> BSONDocument {
        [
            "_id": .string(demo.id), "user_id": .string(demo.userID), "workspace_id": .string(demo.workspaceID),
            "workspace_type": .string(demo.workspaceType), "contact_email": .optional(demo.contactEmail),
            "client_address": .string(demo.clientAddress), "status": .string(demo.status.rawValue),
            // The client its demos are counted by (`demo_slots`): an IPv4 address, an IPv6 /64.
            "client_key": .string(AddressRange.clientKey(forAddress: demo.clientAddress)),
            "created_at": .date(demo.createdAt), "expires_at": .date(demo.expiresAt),
            "max_expires_at": .date(demo.maxExpiresAt), "ended_at": .optional(demo.endedAt),
            "connection_url": .optional(demo.connectionURL), "network_peer_id": .optional(demo.networkPeerID),
            "completed_steps": .array(demo.completedSteps.map { .string($0.rawValue) }),
            "ending_as": .optional(demo.endingAs?.rawValue), "claimed_by": .optional(demo.claimedBy),
            "claimed_until": .optional(demo.claimedUntil),
        ]
    }

    static func demo(_ document: BSONDocument) throws -> DemoSession {
        guard let status = DemoSession.Status(rawValue: try document.string("status")) else {
            throw CorruptDocument(field: "status")
        }
        return DemoSession(
            id: try document.string("_id"), userID: try document.string("user_id"),
            workspaceID: try document.string("workspace_id"), workspaceType: try document.string("workspace_type"),
            contactEmail: document.optionalString("contact_email"), clientAddress: try document.string("client_address"),
            status: status, createdAt: try document.date("created_at"), expiresAt: try document.date("expires_at"),
            maxExpiresAt: try document.date("max_expires_at"), endedAt: document.optionalDate("ended_at"),
            connectionURL: document.optionalString("connection_url"),
            networkPeerID: document.optionalString("network_peer_id"),
            completedSteps: (document["completed_steps"]?.array ?? []).compactMap {
                $0.string.flatMap(DemoCleanupStep.init(rawValue:))
            },
            endingAs: document.optionalString("ending_as").flatMap(DemoSession.Status.init(rawValue:)),
            claimedBy: document.optionalString("claimed_by"), claimedUntil: document.optionalDate("claimed_until"))
    }
}
