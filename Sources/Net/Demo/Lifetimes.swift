import Actors
import Domain
import Foundation

/// What ends things on time: the deadline scheduler, the demo and idle settings, the drivers
/// clean-up calls, and this replica's name for clean-up claims.
public struct Lifetimes: Sendable {
    public let scheduler: ExpiryScheduler
    public let settings: DemoSettings
    public let drivers: DemoDrivers
    /// Unique per process, so a replica's claims are its own.
    public let replicaID: String
    /// Demo clean-ups running in this process.
    let cleanupsRunning = ExclusiveKeys()

    public init(
        settings: DemoSettings = DemoSettings(), drivers: DemoDrivers = DemoDrivers(), clock: WallClock = .system,
        replicaID: String = Identifier.make("replica")
    ) {
        self.scheduler = ExpiryScheduler(clock: clock)
        self.settings = settings
        self.drivers = drivers
        self.replicaID = replicaID
    }
}
