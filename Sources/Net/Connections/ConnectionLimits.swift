/// How many connections NeoSC holds open and for how long it waits on each: what keeps one host
/// from taking the server offline with idle or slowly written connections.
public struct ConnectionLimits: Sendable {
    /// Open connections in all; at the limit the server stops accepting until one closes (new
    /// clients wait in the listen backlog rather than being refused).
    public var maximum: Int
    /// Open connections from one client address; a connection over it is closed as soon as it
    /// is accepted. Zero: no limit per address.
    public var perAddress: Int
    /// Peers the per-address limit does not apply to: the proxies every request comes through.
    public var exempt: TrustedProxies
    /// Once the first byte of a request arrives, its whole head (request line and headers) must
    /// arrive within this time or the connection is closed.
    public var headerTimeout: Duration
    /// Once a request's head has arrived, the rest of its body must arrive within this time or
    /// the connection is closed: a body written a byte at a time resets the idle timer forever.
    public var bodyTimeout: Duration
    /// A connection with no request in progress, or a request whose body stops arriving, is
    /// closed after this long without a byte read.
    public var idleTimeout: Duration

    public init(
        maximum: Int = 10_000, perAddress: Int = 256, exempt: TrustedProxies = .init(),
        headerTimeout: Duration = .seconds(10), bodyTimeout: Duration = .seconds(60), idleTimeout: Duration = .seconds(60)
    ) {
        self.maximum = maximum
        self.perAddress = perAddress
        self.exempt = exempt
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.idleTimeout = idleTimeout
    }
}
