import Domain
import Foundation
import Logging

/// Recordings of workspace streams (issue #17): started when a `session_recording` policy covered
/// the session's launch, kept for the policy's retention, listed, downloaded and deleted by
/// administrators; every step audited (`recording_started`, `recording_finished`,
/// `recording_downloaded`, `recording_deleted`).
public struct Recordings: Sendable {
    private let archive: any RecordingArchive
    private let policies: Policies
    private let audit: AuditTrail
    private let clock: WallClock
    private let logger: Logger

    public init(archive: any RecordingArchive, policies: Policies, audit: AuditTrail, clock: WallClock, logger: Logger) {
        self.archive = archive
        self.policies = policies
        self.audit = audit
        self.clock = clock
        self.logger = logger
    }

    /// Starts recording a stream of `session` (by `user`, from `address`), for as long as the
    /// `session_recording` policies covering it keep recordings (the longest; 30 days if none
    /// covers it any more: the session was launched recorded, and stays so).
    public func start(for session: WorkspaceSession, by user: User, from address: String) async throws -> any RecordingSink {
        let now = clock.now()
        let verdicts = try await policies.evaluate(
            PolicyRequest(
                stage: .launch, role: user.role, userID: user.id, organizationID: user.organizationID,
                workspaceID: session.workspaceID, address: address, mfaVerified: session.mfaVerified, at: now))
        let days =
            verdicts.compactMap { verdict -> Int? in
                if case .recorded(let days) = verdict.outcome { return days }
                return nil
            }.max() ?? Recording.defaultRetentionDays
        let recording = Recording(
            id: Identifier.make("rec"), sessionID: session.id, userID: user.id, userEmail: user.email, workspaceID: session.workspaceID,
            startedAt: now, retentionDays: days, expiresAt: now.addingTimeInterval(TimeInterval(days) * 86_400))
        let sink = try await archive.begin(recording)
        do {
            try await audit.record(
                .recordingStarted, by: .account(user), from: address, resource: ("recording", recording.id),
                details: ["session_id": session.id, "workspace_id": session.workspaceID, "retention_days": String(days)])
        } catch {
            // Not audited, not started: the file is closed again, and the stream refused.
            _ = try? await sink.finish(at: now)
            throw error
        }
        return sink
    }

    /// Closes `sink`'s file and records how much it holds.
    public func finish(_ sink: any RecordingSink, by user: User, from address: String) async {
        do {
            let recording = try await sink.finish(at: clock.now())
            try await audit.record(
                .recordingFinished, by: .account(user), from: address, resource: ("recording", recording.id),
                details: [
                    "session_id": recording.sessionID, "bytes_recorded": String(recording.bytesRecorded),
                    "bytes_stored": String(recording.bytesStored),
                ])
        } catch {
            logger.error("Recording: could not be finished", metadata: ["error": "\(error)"])
        }
    }

    /// Every recording kept, newest first (administrators).
    public func list(by principal: Principal) async throws -> [Recording] {
        try AccessRules.requireAdmin(principal, to: "read recordings")
        return try await archive.recordings()
    }

    /// Recording `id` and the path of its file, to download (administrators; audited).
    public func download(_ id: String, by principal: Principal, from address: String) async throws -> (Recording, String) {
        let (recording, path) = try await available(id, by: principal)
        try await audit.record(
            .recordingDownloaded, by: .principal(principal), from: address, resource: ("recording", id),
            details: ["session_id": recording.sessionID, "owner": recording.userID])
        return (recording, path)
    }

    /// Recording `id` and the path of its file if `principal` may download it, without
    /// downloading it (nothing to audit: a `HEAD`).
    public func available(_ id: String, by principal: Principal) async throws -> (Recording, String) {
        try AccessRules.requireAdmin(principal, to: "download recordings")
        guard let recording = try await archive.recording(id: id), let path = archive.filePath(of: id) else {
            throw DomainError.notFound("Recording not found")
        }
        return (recording, path)
    }

    /// Deletes recording `id` (administrators; audited).
    public func delete(_ id: String, by principal: Principal, from address: String) async throws {
        try AccessRules.requireAdmin(principal, to: "delete recordings")
        guard let recording = try await archive.recording(id: id), try await archive.delete(id: id) else {
            throw DomainError.notFound("Recording not found")
        }
        try await audit.record(
            .recordingDeleted, by: .principal(principal), from: address, resource: ("recording", id),
            details: ["session_id": recording.sessionID, "owner": recording.userID, "reason": "deleted"])
    }

    /// Deletes the recordings whose retention has passed at `now` (audited, NeoSC as the actor);
    /// answers how many.
    @discardableResult
    public func applyRetention(at now: Date? = nil) async throws -> Int {
        let now = now ?? clock.now()
        var deleted = 0
        for recording in try await archive.recordings() where recording.expiresAt <= now {
            guard try await archive.delete(id: recording.id) else { continue }
            deleted += 1
            try await audit.record(
                .recordingDeleted, by: .system(onAccount: recording.userID, email: recording.userEmail),
                resource: ("recording", recording.id),
                details: ["session_id": recording.sessionID, "reason": "retention", "retention_days": String(recording.retentionDays)])
        }
        return deleted
    }
}
