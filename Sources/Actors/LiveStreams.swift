/// The workspace streams open in this process, per session, so that ending a session cuts its
/// streams at once, whatever ended it (issue #17). A stream is told why in its `cuts` sequence.
public actor LiveStreams {
    /// One open stream: its number, and where it hears that its session ended (the reason).
    public struct Opened: Sendable {
        public let number: Int
        public let cuts: AsyncStream<String>
    }

    private var streams: [String: [Int: AsyncStream<String>.Continuation]] = [:]
    private var next = 0

    public init() {}

    /// Registers a stream of session `sessionID`.
    public func open(sessionID: String) -> Opened {
        next += 1
        let (cuts, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(1))
        streams[sessionID, default: [:]][next] = continuation
        return Opened(number: next, cuts: cuts)
    }

    /// Stream `number` of session `sessionID` has closed.
    public func closed(sessionID: String, number: Int) {
        streams[sessionID]?.removeValue(forKey: number)?.finish()
        if streams[sessionID]?.isEmpty == true { streams[sessionID] = nil }
    }

    /// Cuts every stream of each session named, telling it why (`reason`, e.g. `stopped`).
    public func cut(_ ended: [(sessionID: String, reason: String)]) {
        for (sessionID, reason) in ended {
            guard let open = streams.removeValue(forKey: sessionID) else { continue }
            for continuation in open.values {
                continuation.yield(reason)
                continuation.finish()
            }
        }
    }

    /// The sessions with at least one open stream.
    public var sessionIDs: [String] { Array(streams.keys) }

    /// Open streams, all sessions together.
    public var count: Int { streams.values.reduce(0) { $0 + $1.count } }
}
