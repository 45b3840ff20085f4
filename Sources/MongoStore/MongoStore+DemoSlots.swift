import Domain
import Foundation

/// The active-demo limits, held across replicas the way a user's session limit is
/// (`MongoStore+Sessions`): a count then an insert let replicas racing at the limit each see room.
///
/// `demo_slots` holds one document for all demos and one per client (`DemoCapacity`'s client: an
/// IPv4 address, an IPv6 /64), each with a `slots` array naming the active demos it counts. A demo
/// is inserted only once it holds a slot in both, each claimed with one conditional update
/// (`slots.<limit-1>` must not exist), so two claims can never both take the last slot. A demo
/// frees its slots when its clean-up claims it (it stops being active then); a client's document
/// goes once empty. A document made anew takes in the demos already active (a client's, through
/// their `client_key`; those stored before it, by their address), so a deployment that had demos
/// before the slots counts them.
///
/// A claim is marked stored once its start has inserted the demo. A slot whose demo is no longer
/// active (its release failed), or that is unmarked, claimed longer ago than a change's lease and
/// whose demo never appeared (the claiming process died), is reclaimed when the slots are full;
/// an unmarked claim is taken only while still unmarked, in one update, so a start that stored its
/// demo meanwhile keeps it, and a start that finds its claim taken when it marks it undoes its
/// insert and is refused. A start claims within half the lease or gives up. A claim is never made
/// twice for one demo (a write sent again after a lost answer finds it there).
///
/// Slots are claimed and freed outside changes: a journaled change's undo would put back an old
/// copy of the document all replicas share.
extension MongoStore {
    private static let allDemos = "all"

    /// The slots `demo` counts in: all demos', then its client's.
    static func demoSlotKeys(of demo: DemoSession) -> [String] {
        [allDemos, clientSlotKey(AddressRange.clientKey(forAddress: demo.clientAddress))]
    }

    private static func clientSlotKey(_ client: String) -> String { "client:" + client }

    /// How old a claim whose demo never appeared must be before another start may reclaim it.
    private var abandonedDemoSlotAge: TimeInterval { TimeInterval(changeLease.components.seconds) }

    /// Inserts `demo` holding a slot under both limits, or throws the refusal (429) and holds none.
    func insertHoldingSlots(_ demo: DemoSession, limit: Int, perAddressLimit: Int) async throws {
        precondition(!database.inTransaction && database.openJournal == nil, "demo slots are claimed outside changes")
        let keys = Self.demoSlotKeys(of: demo)
        let started = ContinuousClock.now
        var full: String?
        do {
            for (key, cap) in zip(keys, [limit, perAddressLimit]) {
                guard try await claimDemoSlot(key, for: demo, limit: cap) else {
                    full = key
                    break
                }
            }
            guard full != nil || ContinuousClock.now - started < changeLease / 2 else {
                throw DomainError.unavailable("The data store is too slow to start a demo now; try again")
            }
        } catch {
            // A claim whose answer was lost may have been made: freeing one not made is harmless.
            try? await releaseDemoSlots(keys, demoID: demo.id)
            throw error
        }
        if let full {
            // Freed before the refusal is worked out, so that it does not count this start.
            try? await releaseDemoSlots(keys, demoID: demo.id)
            throw try await demoRefusal(of: demo, limit: limit, perAddressLimit: perAddressLimit, full: full)
        }
        do {
            try await database.insert("demo_sessions", Self.document(demo))
            // Its claims marked stored: a reclaim takes a claim whose demo it did not find only
            // while it is unmarked, so either the mark or the reclaim comes first, never both.
            for key in keys {
                let marked = try await database.update(
                    "demo_slots", ["_id": .string(key), "slots.id": .string(demo.id)], ["$set": .document(["slots.$.stored": .bool(true)])])
                guard marked.matched == 1 else {
                    throw DomainError.rateLimited("Too many demo sessions are starting at once; try again later", retryAfterSeconds: 5)
                }
            }
        } catch {
            // Undone as far as it can be: the demo goes, then its slots, only once it is known to
            // be gone (an insert whose answer was lost may have landed; a reclaim frees its slots
            // once the demo has ended).
            _ = try? await database.delete("demo_sessions", ["_id": .string(demo.id), "status": .string(DemoSession.Status.active.rawValue)])
            if await demoIsAbsent(demo.id) { try? await releaseDemoSlots(keys, demoID: demo.id) }
            throw error
        }
    }

    /// Frees `demoID`'s slots under `keys`.
    func releaseDemoSlots(_ keys: [String], demoID: String) async throws {
        precondition(!database.inTransaction && database.openJournal == nil, "demo slots are freed outside changes")
        try await pull([demoID], fromSlots: keys)
    }

    /// Takes `ids`' claims out of the slots under `keys`; a client's document left empty goes.
    private func pull(_ ids: [String], fromSlots keys: [String]) async throws {
        guard !keys.isEmpty, !ids.isEmpty else { return }
        _ = try await database.update(
            "demo_slots", ["_id": .document(["$in": .array(keys.map { .string($0) })])],
            ["$pull": .document(["slots": .document(["id": .document(["$in": .array(ids.map { .string($0) })])])])], many: true)
        let clients = keys.filter { $0 != Self.allDemos }
        guard !clients.isEmpty else { return }
        _ = try await database.delete(
            "demo_slots", ["_id": .document(["$in": .array(clients.map { .string($0) })]), "slots": .document(["$size": .int(0)])],
            many: true)
    }

    /// Claims `demo` a slot under `key`; false when the slots are full, abandoned ones reclaimed.
    private func claimDemoSlot(_ key: String, for demo: DemoSession, limit: Int) async throws -> Bool {
        guard limit > 0 else { return false }
        let slot = BSON.document(["id": .string(demo.id), "at": .date(demo.createdAt)])
        var reclaimed = false
        // Each turn either claims, or learns why not: no document (made, with the demos already
        // active), room again since the update (claim again), or full (reclaim once). Other
        // starts' writes between the two can send it round again; not for ever.
        for _ in 0..<8 {
            // Never a second claim for one demo (a write sent again after a lost answer).
            let claimed = try await database.update(
                "demo_slots",
                [
                    "_id": .string(key), "slots.\(limit - 1)": .document(["$exists": .bool(false)]),
                    "slots.id": .document(["$ne": .string(demo.id)]),
                ],
                ["$push": .document(["slots": slot])])
            if claimed.matched == 1 { return true }
            guard let document = try await database.findOne("demo_slots", ["_id": .string(key)]) else {
                // None yet, or a client's just gone: made, with the demos already active.
                do {
                    try await database.insert("demo_slots", ["_id": .string(key), "slots": .array(try await activeDemoSlots(key))])
                } catch let failure as MongoFailure where failure.isDuplicateKey {
                    // Another start made it first: claim in it.
                }
                continue
            }
            let claims = document["slots"]?.array?.compactMap(\.document) ?? []
            if claims.contains(where: { $0["id"]?.string == demo.id }) { return true }  // an earlier answer was lost
            if claims.count < limit { continue }
            guard !reclaimed else { return false }
            reclaimed = true
            guard try await reclaimAbandonedDemoSlots(key, now: demo.createdAt) else { return false }
        }
        throw DomainError.unavailable("The data store is busy with demo starts; try again")
    }

    /// The slots of the demos active now that `key` counts, for a document made anew.
    private func activeDemoSlots(_ key: String) async throws -> [BSON] {
        var filter: BSONDocument = ["status": .string(DemoSession.Status.active.rawValue)]
        if key != Self.allDemos {
            // A client's own, by the key stored with each demo, and those stored before it had one.
            filter["$or"] = .array([
                .document(["client_key": .string(String(key.dropFirst("client:".count)))]),
                .document(["client_key": .document(["$exists": .bool(false)])]),
            ])
        }
        return try await database.find("demo_sessions", filter, projection: ["client_address": .int(1), "created_at": .int(1)])
            .compactMap { document in
                let client = AddressRange.clientKey(forAddress: try document.string("client_address"))
                guard key == Self.allDemos || key == Self.clientSlotKey(client) else { return nil }
                return .document(["id": .string(try document.string("_id")), "at": .date(try document.date("created_at"))])
            }
    }

    /// The claims under `key` whose demo has stopped being active (its release failed), and
    /// those never marked stored whose demo has not appeared although claimed
    /// `abandonedDemoSlotAge` ago; and, of the unmarked ones not yet that old, when the first
    /// could be reclaimed.
    private func abandonedDemoSlots(_ key: String, now: Date) async throws -> (ended: [String], neverStored: [String], nextIn: TimeInterval?) {
        guard let slots = try await database.findOne("demo_slots", ["_id": .string(key)])?["slots"]?.array else { return ([], [], nil) }
        let claims = slots.compactMap(\.document)
        var statusByID: [String: String] = [:]
        for demo in try await database.find("demo_sessions", withIDsIn: claims.compactMap { $0["id"]?.string }) {
            statusByID[try demo.string("_id")] = try demo.string("status")
        }
        var ended: [String] = []
        var neverStored: [String] = []
        var nextIn: TimeInterval?
        for claim in claims {
            guard let id = claim["id"]?.string else { continue }
            switch statusByID[id] {
            case DemoSession.Status.active.rawValue?:
                continue
            case nil:
                guard claim["stored"] == nil else { continue }  // its start is undoing it
                let waited = now.timeIntervalSince(claim["at"]?.date ?? .distantPast)
                if waited >= abandonedDemoSlotAge {
                    neverStored.append(id)
                } else {
                    nextIn = min(nextIn ?? .infinity, abandonedDemoSlotAge - waited)
                }
            default:
                ended.append(id)
            }
        }
        return (ended, neverStored, nextIn)
    }

    /// Frees the abandoned claims under `key`; whether any was freed.
    private func reclaimAbandonedDemoSlots(_ key: String, now: Date) async throws -> Bool {
        let abandoned = try await abandonedDemoSlots(key, now: now)
        try await pull(abandoned.ended, fromSlots: [key])
        if !abandoned.neverStored.isEmpty {
            // Only while still unmarked: a start that stored its demo since keeps its slot.
            _ = try await database.update(
                "demo_slots", ["_id": .string(key)],
                [
                    "$pull": .document([
                        "slots": .document([
                            "id": .document(["$in": .array(abandoned.neverStored.map { .string($0) })]),
                            "stored": .document(["$exists": .bool(false)]),
                        ])
                    ])
                ])
        }
        return !abandoned.ended.isEmpty || !abandoned.neverStored.isEmpty
    }

    private func demoIsAbsent(_ id: String) async -> Bool {
        do {
            return try await database.findOne("demo_sessions", ["_id": .string(id)]) == nil
        } catch {
            return false
        }
    }

    /// The refusal of `demo`, whose slots under `full` are taken, naming when the soonest of the
    /// active demos that fill the limit ends (`DemoCapacity`). Slots held by claims whose demo is
    /// not stored yet (a start under way, or one whose process died) are not in that count: then,
    /// when the first of those could be reclaimed, or a second for a start under way.
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
        let wait = try await abandonedDemoSlots(key, now: demo.createdAt).nextIn ?? 1
        return .rateLimited("\(what); try again later", retryAfterSeconds: max(1, Int(wait.rounded(.up))))
    }
}
