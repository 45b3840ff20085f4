import Domain

/// The workspace streams open in this process, per session, so that ending a session cuts its
/// streams at once, whatever ended it (issue #17). A stream is told why in its `cuts` sequence.
public actor LiveStreams {
    /// What a stream is judged on while it runs (`StreamContinuation`): whose, where from, what.
    public struct Subject: Sendable, Equatable {
        public let sessionID: String
        public let userID: String
        public let role: Role
        public let organizationID: String?
        public let workspaceID: String
        public let address: String
        public let mfaVerified: Bool

        public init(
            sessionID: String, userID: String, role: Role, organizationID: String?, workspaceID: String, address: String,
            mfaVerified: Bool
        ) {
            self.sessionID = sessionID
            self.userID = userID
            self.role = role
            self.organizationID = organizationID
            self.workspaceID = workspaceID
            self.address = address
            self.mfaVerified = mfaVerified
        }

        /// The same stream, of an account that now has `role` and is in `organizationID`.
        public func of(role: Role, in organizationID: String?) -> Subject {
            Subject(
                sessionID: sessionID, userID: userID, role: role, organizationID: organizationID, workspaceID: workspaceID,
                address: address, mfaVerified: mfaVerified)
        }
    }

    /// One open stream: its number, and where it hears that its session ended (the reason).
    public struct Opened: Sendable {
        public let number: Int
        public let cuts: AsyncStream<String>
    }

    private struct Entry {
        let subject: Subject
        let continuation: AsyncStream<String>.Continuation
    }

    private var streams: [String: [Int: Entry]] = [:]
    private var next = 0

    public init() {}

    /// The most streams one session may have open at once (a desktop watched from a few tabs, not
    /// a way to multiply connections to the workspace).
    public static let maximumPerSession = 4

    /// Registers a stream of `subject`'s session; nil when it already has `maximumPerSession`.
    public func open(_ subject: Subject) -> Opened? {
        guard (streams[subject.sessionID]?.count ?? 0) < Self.maximumPerSession else { return nil }
        next += 1
        let (cuts, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(1))
        streams[subject.sessionID, default: [:]][next] = Entry(subject: subject, continuation: continuation)
        return Opened(number: next, cuts: cuts)
    }

    /// Stream `number` of session `sessionID` has closed.
    public func closed(sessionID: String, number: Int) {
        streams[sessionID]?.removeValue(forKey: number)?.continuation.finish()
        if streams[sessionID]?.isEmpty == true { streams[sessionID] = nil }
    }

    /// Cuts every stream of each session named, telling it why (`reason`, e.g. `stopped`).
    public func cut(_ ended: [(sessionID: String, reason: String)]) {
        for (sessionID, reason) in ended {
            guard let open = streams.removeValue(forKey: sessionID) else { continue }
            for entry in open.values {
                entry.continuation.yield(reason)
                entry.continuation.finish()
            }
        }
    }

    /// Every open stream's subject.
    public var subjects: [Subject] { streams.values.flatMap { $0.values.map(\.subject) } }

    /// Open streams, all sessions together.
    public var count: Int { streams.values.reduce(0) { $0 + $1.count } }
}
