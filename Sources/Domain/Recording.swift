import Foundation

/// A workspace stream as it was recorded (issue #17): what the desktop sent the browser, written
/// compressed and timestamped while it streamed, kept for its retention, then deleted.
public struct Recording: Sendable, Equatable, Codable {
    public var id: String
    public var sessionID: String
    public var userID: String
    public var userEmail: String
    public var workspaceID: String
    public var startedAt: Date
    /// Nil while the stream runs (or if the process stopped before it could finish the file).
    public var finishedAt: Date?
    /// Bytes the desktop sent, as recorded.
    public var bytesRecorded: Int
    /// Bytes on disk (compressed, with the records' timestamps).
    public var bytesStored: Int
    public var retentionDays: Int
    public var expiresAt: Date

    public init(
        id: String, sessionID: String, userID: String, userEmail: String, workspaceID: String, startedAt: Date,
        finishedAt: Date? = nil, bytesRecorded: Int = 0, bytesStored: Int = 0, retentionDays: Int, expiresAt: Date
    ) {
        self.id = id
        self.sessionID = sessionID
        self.userID = userID
        self.userEmail = userEmail
        self.workspaceID = workspaceID
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.bytesRecorded = bytesRecorded
        self.bytesStored = bytesStored
        self.retentionDays = retentionDays
        self.expiresAt = expiresAt
    }

    /// How long a recording is kept when the policy that asked for it no longer says.
    public static let defaultRetentionDays = 30
}

/// Where recordings are kept: each a compressed file, written as the stream goes (never held in
/// memory whole), and its description.
public protocol RecordingArchive: Sendable {
    /// Starts writing `recording`.
    func begin(_ recording: Recording) async throws -> any RecordingSink
    /// Every recording kept, newest first.
    func recordings() async throws -> [Recording]
    func recording(id: String) async throws -> Recording?
    /// The path of recording `id`'s compressed file; nil when there is none.
    func filePath(of id: String) -> String?
    /// Removes recording `id`; false when there was none.
    func delete(id: String) async throws -> Bool
}

/// One recording being written.
public protocol RecordingSink: Sendable {
    var recording: Recording { get async }
    /// Appends what the desktop sent `offset` after the stream opened.
    func append(_ bytes: [UInt8], at offset: Duration) async throws
    /// Closes the file; the recording as kept.
    func finish(at now: Date) async throws -> Recording
}
