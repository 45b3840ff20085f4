import Logging

/// One answered request, as the access log records it. The path has no query string, so a
/// credential a client wrongly put in a URL never reaches the log.
public struct AccessLogEntry: Sendable {
    public var method: String
    public var path: String
    /// The route's template (`/api/workspaces/{id}/launch`), or `unmatched`.
    public var route: String
    public var status: Int
    public var duration: Duration
    public var peer: String

    public init(method: String, path: String, route: String, status: Int, duration: Duration, peer: String) {
        self.method = method
        self.path = path
        self.route = route
        self.status = status
        self.duration = duration
        self.peer = peer
    }

    /// `duration` in whole microseconds, never negative.
    public var microseconds: Int {
        let (seconds, attoseconds) = duration.components
        return max(0, Int(seconds) * 1_000_000 + Int(attoseconds / 1_000_000_000_000))
    }

    /// `duration` in milliseconds with three decimals ("12.345"), without `String(format:)`
    /// (which goes through Foundation's formatter for every request).
    public var milliseconds: String {
        let fraction = microseconds % 1_000
        let padding = fraction < 10 ? "00" : fraction < 100 ? "0" : ""
        return "\(microseconds / 1_000).\(padding)\(fraction)"
    }
}

/// Where access-log lines go, one per answered request. `logger` is the request's own (its
/// metadata carries `request_id`).
public protocol AccessLog: Sendable {
    func record(_ entry: AccessLogEntry, logger: Logger)
}

/// The access log through swift-log: an `info` line, `request`, on the request's logger. What
/// embedders and tests get; `neosc serve` writes its own lines (`BufferedAccessLog`), which
/// costs a request far less.
public struct LoggerAccessLog: AccessLog {
    public init() {}

    public func record(_ entry: AccessLogEntry, logger: Logger) {
        logger.info(
            "request",
            metadata: [
                "method": .string(entry.method),
                "path": .string(entry.path),
                "route": .string(entry.route),
                "status": .stringConvertible(entry.status),
                "duration_ms": .string(entry.milliseconds),
                "peer": .string(entry.peer),
            ])
    }
}
