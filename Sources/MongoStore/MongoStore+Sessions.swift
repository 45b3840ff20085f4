import Domain
import Foundation

/// Sessions, and the per-user limit that holds across replicas.
///
/// Each user has one `session_slots` document whose `slots` array names their active sessions.
/// A launch claims a slot with one conditional update (`slots.<limit-1>` must not exist), so two
/// replicas can never both take the last one; ending a session frees its slot. A slot left behind
/// by a crash between claim and insert is reclaimed once it is older than a minute and its session
/// is not active.
extension MongoStore: SessionStore {
    private static let abandonedSlotAge: TimeInterval = 60

    public func start(_ session: WorkspaceSession, limit: Int) async throws {
        try await claimSlot(for: session, limit: limit)
        do {
            try await database.insert("sessions", Self.document(session))
        } catch {
            try? await releaseSlots(userID: session.userID, sessionIDs: [session.id])
            throw error
        }
    }

    private func claimSlot(for session: WorkspaceSession, limit: Int) async throws {
        let user = BSON.string(session.userID)
        let slot = BSON.document(["id": .string(session.id), "at": .date(session.startedAt)])
        for attempt in 0..<2 {
            let claimed = try await database.update(
                "session_slots", ["_id": user, "slots.\(limit - 1)": .document(["$exists": .bool(false)])],
                ["$push": .document(["slots": slot])])
            if claimed.matched == 1 { return }
            if try await database.findOne("session_slots", ["_id": user]) == nil {
                do {
                    try await database.insert("session_slots", ["_id": user, "slots": .array([slot])])
                    return
                } catch let failure as MongoFailure where failure.isDuplicateKey {
                    // A concurrent first launch made them: claim again (in a transaction, from the start).
                    if database.inTransaction { throw MongoFailure.restart("a concurrent launch made the user's slots") }
                }
            } else if attempt == 0 {
                // The user's slots exist and are full.
                try await reclaimAbandonedSlots(userID: session.userID, now: session.startedAt)
            }
        }
        throw DomainError.sessionLimitReached(limit)
    }

    /// Frees slots whose session has ended (its slot release failed), or never appeared and was
    /// claimed over a minute ago (the claiming process died before inserting it).
    private func reclaimAbandonedSlots(userID: String, now: Date) async throws {
        guard let slots = try await database.findOne("session_slots", ["_id": .string(userID)])?["slots"]?.array else {
            return
        }
        let claims = slots.compactMap(\.document)
        let stored = try await database.find(
            "sessions", ["_id": .document(["$in": .array(claims.compactMap { $0["id"] })])])
        var statusByID: [String: String] = [:]
        for session in stored { statusByID[try session.string("_id")] = try session.string("status") }
        let abandoned = claims.compactMap { claim -> String? in
            guard let id = claim["id"]?.string else { return nil }
            switch statusByID[id] {
            case "active"?:
                return nil
            case nil:
                let claimedAt = claim["at"]?.date ?? .distantPast
                return now.timeIntervalSince(claimedAt) >= Self.abandonedSlotAge ? id : nil
            default:
                return id
            }
        }
        if !abandoned.isEmpty {
            try await releaseSlots(userID: userID, sessionIDs: abandoned)
        }
    }

    func releaseSlots(userID: String, sessionIDs: [String]) async throws {
        _ = try await database.update(
            "session_slots", ["_id": .string(userID)],
            ["$pull": .document(["slots": .document(["id": .document(["$in": .array(sessionIDs.map { .string($0) })])])])])
    }

    public func session(id: String) async throws -> WorkspaceSession? {
        try await database.findOne("sessions", ["_id": .string(id)]).map(Self.session)
    }

    public func sessions(userID: String?, status: SessionStatus?, limit: Int) async throws -> [WorkspaceSession] {
        var filter: BSONDocument = [:]
        if let userID { filter["user_id"] = .string(userID) }
        if let status { filter["status"] = .string(status.rawValue) }
        return try await database.find("sessions", filter, sort: ["started_at": .int(-1), "_id": .int(1)], limit: limit)
            .map(Self.session)
    }

    public func touch(id: String, at now: Date) async throws -> WorkspaceSession? {
        try await database.findAndModify(
            "sessions", ["_id": .string(id), "status": .string("active")],
            update: ["$set": .document(["last_seen_at": .date(now)])]
        ).map(Self.session)
    }

    public func end(id: String, _ ending: SessionEnding, at now: Date) async throws -> WorkspaceSession? {
        try await endActive(["_id": .string(id)], ending, at: now).first
    }

    public func end(
        userID: String, workspaceID: String, _ ending: SessionEnding, at now: Date
    ) async throws
        -> WorkspaceSession?
    {
        let filter: BSONDocument = [
            "user_id": .string(userID), "workspace_id": .string(workspaceID), "status": .string("active"),
        ]
        guard
            let ended = try await database.findAndModify(
                "sessions", filter, update: Self.ending(ending, at: now), sort: ["started_at": .int(-1)])
        else { return nil }
        try await releaseSlots(userID: userID, sessionIDs: [try ended.string("_id")])
        return try Self.session(ended)
    }

    public func endAll(userID: String, _ ending: SessionEnding, at now: Date) async throws -> [WorkspaceSession] {
        try await endActive(["user_id": .string(userID)], ending, at: now)
    }

    public func activeCount(userID: String) async throws -> Int {
        try await database.count("sessions", ["user_id": .string(userID), "status": .string("active")])
    }

    public func activeCountsByWorkspace() async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for document in try await database.find("sessions", ["status": .string("active")]) {
            counts[try document.string("workspace_id"), default: 0] += 1
        }
        return counts
    }

    public func activeCount(organizationID: String?) async throws -> Int {
        var filter: BSONDocument = ["status": .string("active")]
        if let organizationID {
            filter["user_id"] = .document(["$in": .array(try await userIDs(organizationID: organizationID))])
        }
        return try await database.count("sessions", filter)
    }

    /// Ends every active session matching `filter`, one atomic findAndModify each, so a session
    /// ended concurrently by another replica is ended (and returned) exactly once.
    func endActive(_ filter: BSONDocument, _ ending: SessionEnding, at now: Date) async throws -> [WorkspaceSession] {
        var active = filter
        active["status"] = .string("active")
        var ended: [WorkspaceSession] = []
        for candidate in try await database.find("sessions", active) {
            let id = try candidate.string("_id")
            guard
                let document = try await database.findAndModify(
                    "sessions", ["_id": .string(id), "status": .string("active")], update: Self.ending(ending, at: now))
            else { continue }
            let session = try Self.session(document)
            try await releaseSlots(userID: session.userID, sessionIDs: [session.id])
            ended.append(session)
        }
        return ended
    }

    private static func ending(_ ending: SessionEnding, at now: Date) -> BSONDocument {
        ["$set": .document(["status": .string(ending.status.rawValue), "ended_at": .date(now), "end_reason": .string(ending.reason)])]
    }

    static func document(_ session: WorkspaceSession) -> BSONDocument {
        [
            "_id": .string(session.id), "user_id": .string(session.userID), "user_email": .string(session.userEmail),
            "workspace_id": .string(session.workspaceID), "workspace_name": .string(session.workspaceName),
            "status": .string(session.status.rawValue), "started_at": .date(session.startedAt),
            "ended_at": .optional(session.endedAt), "expires_at": .optional(session.expiresAt),
            "last_seen_at": .date(session.lastSeenAt), "ip_address": .string(session.ipAddress),
            "mfa_verified": .bool(session.mfaVerified), "end_reason": .optional(session.endReason),
            "recording": .bool(session.recording),
        ]
    }

    static func session(_ document: BSONDocument) throws -> WorkspaceSession {
        guard let status = SessionStatus(rawValue: try document.string("status")) else {
            throw CorruptDocument(field: "status")
        }
        return WorkspaceSession(
            id: try document.string("_id"), userID: try document.string("user_id"),
            userEmail: try document.string("user_email"), workspaceID: try document.string("workspace_id"),
            workspaceName: try document.string("workspace_name"), status: status,
            startedAt: try document.date("started_at"), endedAt: document.optionalDate("ended_at"),
            expiresAt: document.optionalDate("expires_at"), lastSeenAt: try document.date("last_seen_at"),
            ipAddress: try document.string("ip_address"), mfaVerified: try document.bool("mfa_verified"),
            endReason: document.optionalString("end_reason"), recording: document["recording"]?.bool ?? false)
    }
}
