import Domain
import Foundation

/// The live sessions this process knows of, indexed per user and per workspace, so listing
/// workspaces with their `active_sessions` costs no store query. The store stays the source of
/// truth (it enforces the per-user limit atomically); the registry is loaded from it at start-up
/// and kept current by every start and end that goes through this process. When other processes
/// share the store (replicas on MongoDB), `maxAge` bounds how stale it may get before a reload.
public actor SessionRegistry {
    private struct Live {
        var userID: String
        var workspaceID: String
    }

    private var live: [String: Live] = [:]
    private var perUser: [String: Int] = [:]
    private var perWorkspace: [String: Int] = [:]

    /// How long a load stays good; nil when this process makes every change (embedded store).
    public nonisolated let maxAge: TimeInterval?
    private var loadedAt: Date?

    /// The workspace streams open in this process: every end this registry hears of cuts them.
    public nonisolated let streams: LiveStreams

    /// - Parameter maxAge: nil when this process makes every change the store sees (embedded
    ///   store); otherwise how long a load stays good.
    public init(maxAge: TimeInterval? = nil, streams: LiveStreams = LiveStreams()) {
        self.maxAge = maxAge
        self.streams = streams
    }

    /// Whether the registry must be (re)loaded from the store before it is read at `now`.
    public func needsLoad(at now: Date) -> Bool {
        guard let loadedAt else { return true }
        guard let maxAge else { return false }
        return now.timeIntervalSince(loadedAt) >= maxAge
    }

    /// The reload in progress, which callers that find the registry stale join.
    private var reloading: Task<Void, any Error>?

    /// Reloads from `read` (the store's active sessions) if the registry is stale at `now`. One
    /// read at a time: callers that arrive while one runs wait for it instead of reading too (at
    /// 1,024 connections every list request found the registry stale at once and read every
    /// active session, issue #16).
    public func refreshIfStale(at now: Date, read: @escaping @Sendable () async throws -> [WorkspaceSession]) async throws {
        if let reloading { return try await reloading.value }
        guard needsLoad(at: now) else { return }
        let reload = Task { try await self.load(read(), at: now) }
        reloading = reload
        defer { reloading = nil }
        try await reload.value
    }

    /// Replaces what the registry knows with the store's active sessions, as read at `now`.
    public func load(_ sessions: [WorkspaceSession], at now: Date) {
        loadedAt = now
        live = [:]
        perUser = [:]
        perWorkspace = [:]
        for session in sessions where session.status == .active {
            started(session)
        }
    }

    public func started(_ session: WorkspaceSession) {
        guard live[session.id] == nil else { return }
        live[session.id] = Live(userID: session.userID, workspaceID: session.workspaceID)
        perUser[session.userID, default: 0] += 1
        perWorkspace[session.workspaceID, default: 0] += 1
    }

    /// `sessions` have ended: they leave the counts, and their streams are cut at once.
    public func ended(_ sessions: [WorkspaceSession]) async {
        for session in sessions {
            guard let entry = live.removeValue(forKey: session.id) else { continue }
            decrement(&perUser, entry.userID)
            decrement(&perWorkspace, entry.workspaceID)
        }
        await streams.cut(sessions.map { ($0.id, $0.endReason ?? $0.status.rawValue) })
    }

    public var activeCount: Int { live.count }

    public func activeCount(userID: String) -> Int { perUser[userID] ?? 0 }

    public func activeCountsByWorkspace() -> [String: Int] { perWorkspace }

    private func decrement(_ counts: inout [String: Int], _ key: String) {
        let remaining = (counts[key] ?? 1) - 1
        counts[key] = remaining > 0 ? remaining : nil
    }
}
