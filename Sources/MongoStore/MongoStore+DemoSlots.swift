import Domain
import Foundation

/// The active-demo limits, held across replicas the way a user's session limit is
/// (`MongoStore+Sessions`): a count then an insert let replicas racing at the limit each see room.
///
/// `demo_slots` holds one document for all demos and one per client (`DemoCapacity`'s client: an
/// IPv4 address, an IPv6 /64), each with a `slots` array naming the active demos it counts. A demo
/// is inserted only once it holds a slot in both, each claimed with one conditional update
/// (`slots.<limit-1>` must not exist), so two claims can never both take the last slot. A demo
/// frees its slots when its clean-up claims it (it stops being active then). A document made for
/// the first time takes in the demos already active, so a deployment that had demos before the
/// slots starts counting them; a slot whose demo is no longer active, or was claimed over a minute
/// ago and never inserted (the claiming process died), is reclaimed when the slots are full.
extension MongoStore {
    private static let abandonedDemoSlotAge: TimeInterval = 60
    private static let allDemos = "all"

    /// The slots `demo` counts in: all demos', then its client's.
    static func demoSlotKeys(of demo: DemoSession) -> [String] {
        [allDemos, "client:" + AddressRange.clientKey(forAddress: demo.clientAddress)]
    }

    /// Claims `demo` a slot under both limits, or throws the refusal (429) and holds none.
    func claimDemoSlots(for demo: DemoSession, limit: Int, perAddressLimit: Int) async throws {
        var held: [String] = []
        do {
            for (key, cap) in zip(Self.demoSlotKeys(of: demo), [limit, perAddressLimit]) {
                guard try await claimDemoSlot(key, for: demo, limit: cap) else {
                    throw try await demoRefusal(of: demo, limit: limit, perAddressLimit: perAddressLimit, full: key)
                }
                held.append(key)
            }
        } catch {
            try? await releaseDemoSlots(held, demoID: demo.id)
            throw error
        }
    }

    /// Frees `demoID`'s slots under `keys`.
    func releaseDemoSlots(_ keys: [String], demoID: String) async throws {
        guard !keys.isEmpty else { return }
        _ = try await database.update(
            "demo_slots", ["_id": .document(["$in": .array(keys.map { .string($0) })])],
            ["$pull": .document(["slots": .document(["id": .document(["$in": .array([.string(demoID)])])])])], many: true)
    }

    private func claimDemoSlot(_ key: String, for demo: DemoSession, limit: Int) async throws -> Bool {
        guard limit > 0 else { return false }
        let slot = BSON.document(["id": .string(demo.id), "at": .date(demo.createdAt)])
        var made = false
        var reclaimed = false
        while true {
            let claimed = try await database.update(
                "demo_slots", ["_id": .string(key), "slots.\(limit - 1)": .document(["$exists": .bool(false)])],
                ["$push": .document(["slots": slot])])
            if claimed.matched == 1 { return true }
            if !made, try await database.findOne("demo_slots", ["_id": .string(key)]) == nil {
                made = true
                do {
                    try await database.insert("demo_slots", ["_id": .string(key), "slots": .array(try await activeDemoSlots(key))])
                } catch let failure as MongoFailure where failure.isDuplicateKey {
                    // Another claim made it first: claim in it (in a transaction, from the start).
                    if database.inTransaction { throw MongoFailure.restart("a concurrent demo made the demo slots") }
                }
                continue
            }
            guard !reclaimed else { return false }
            reclaimed = true
            guard try await reclaimAbandonedDemoSlots(key, now: demo.createdAt) else { return false }
        }
    }

    /// The slots of the demos active now that `key` counts, for a document made for the first time.
    private func activeDemoSlots(_ key: String) async throws -> [BSON] {
        try await database.find(
            "demo_sessions", ["status": .string(DemoSession.Status.active.rawValue)],
            projection: ["client_address": .int(1), "created_at": .int(1)]
        ).compactMap { document in
            let address = try document.string("client_address")
            guard key == Self.allDemos || key == "client:" + AddressRange.clientKey(forAddress: address) else { return nil }
            return .document(["id": .string(try document.string("_id")), "at": .date(try document.date("created_at"))])
        }
    }

    /// Frees the slots under `key` whose demo has stopped being active (its release failed), or
    /// never appeared and was claimed over a minute ago; whether any was freed.
    private func reclaimAbandonedDemoSlots(_ key: String, now: Date) async throws -> Bool {
        guard let slots = try await database.findOne("demo_slots", ["_id": .string(key)])?["slots"]?.array else { return false }
        let claims = slots.compactMap(\.document)
        var statusByID: [String: String] = [:]
        for demo in try await database.find("demo_sessions", withIDsIn: claims.compactMap { $0["id"]?.string }) {
            statusByID[try demo.string("_id")] = try demo.string("status")
        }
        let abandoned = claims.compactMap { claim -> String? in
            guard let id = claim["id"]?.string else { return nil }
            switch statusByID[id] {
            case DemoSession.Status.active.rawValue?: return nil
            case nil: return now.timeIntervalSince(claim["at"]?.date ?? .distantPast) >= Self.abandonedDemoSlotAge ? id : nil
            default: return id
            }
        }
        guard !abandoned.isEmpty else { return false }
        _ = try await database.update(
            "demo_slots", ["_id": .string(key)],
            ["$pull": .document(["slots": .document(["id": .document(["$in": .array(abandoned.map { .string($0) })])])])])
        return true
    }

    /// The refusal of `demo`, whose slots under `full` are taken, naming when the soonest of the
    /// active demos that fill the limit ends (`DemoCapacity`); a demo still being inserted by
    /// another claim holds a slot and is not yet counted, so a refusal is answered either way.
    private func demoRefusal(of demo: DemoSession, limit: Int, perAddressLimit: Int, full key: String) async throws -> DomainError {
        let active = try await database.find(
            "demo_sessions", ["status": .string(DemoSession.Status.active.rawValue)],
            projection: ["client_address": .int(1), "expires_at": .int(1)]
        ).map { document in
            DemoCapacity.Active(clientAddress: try document.string("client_address"), expiresAt: try document.date("expires_at"))
        }
        if let refusal = DemoCapacity.refusal(of: demo, beside: active, limit: limit, perClientLimit: perAddressLimit) {
            return refusal
        }
        let what = key == Self.allDemos ? "Too many demo sessions are running" : "Too many demo sessions from this address"
        return .rateLimited("\(what); try again later", retryAfterSeconds: 1)
    }
}
