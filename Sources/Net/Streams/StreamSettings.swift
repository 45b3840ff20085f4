/// How workspace streams are relayed (issue #17).
public struct StreamSettings: Sendable {
    /// How long dialling a workspace's upstream may take.
    public var connectTimeout: Duration
    /// How long a VNC upstream may stay silent after the connection opens (an RFB server speaks
    /// first), and a WebSocket upstream may take to answer the upgrade; past it the connection is
    /// given up and the browser told the workspace did not answer.
    public var firstByteTimeout: Duration
    /// The largest frame a browser may send (and the largest NeoSC sends it).
    public var maxFrameSize: Int
    /// How long a stream ticket stays good.
    public var ticketLifetime: Duration
    /// Input from the browser counts as a heartbeat at most this often.
    public var activityInterval: Duration
    /// How often running streams are judged again: sessions ended by another process, policies
    /// that now refuse them.
    public var reviewInterval: Duration = .seconds(1)
    /// What a `wss://` upstream's certificate must chain to.
    public var upstreamTrust: UpstreamTrust = .system

    public init(
        connectTimeout: Duration = .seconds(5), firstByteTimeout: Duration = .seconds(10), maxFrameSize: Int = 1 << 16,
        ticketLifetime: Duration = .seconds(10), activityInterval: Duration = .seconds(10)
    ) {
        self.connectTimeout = connectTimeout
        self.firstByteTimeout = firstByteTimeout
        self.maxFrameSize = maxFrameSize
        self.ticketLifetime = ticketLifetime
        self.activityInterval = activityInterval
    }
}
