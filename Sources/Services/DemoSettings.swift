import Foundation

/// Demo sessions and session lifetimes (`NEOSC_DEMO_*`, `NEOSC_IDLE_TIMEOUT`).
public struct DemoSettings: Sendable {
    public var enabled = false
    /// How long a new demo lasts.
    public var lifetime: TimeInterval = 30 * 60
    /// The longest a demo may be extended to, from its creation.
    public var maxDuration: TimeInterval = 2 * 3_600
    /// Active demos at once, overall and per client address.
    public var maxActive = 50
    public var maxActivePerAddress = 3
    /// Demos started per hour, overall and per client address, ended ones included: a
    /// create-and-end loop stays under the active limits but not under these.
    public var creationsPerHour = 200
    public var creationsPerAddressPerHour = 10
    /// Workspace sessions with no heartbeat for this long become `disconnected`.
    public var idleTimeout: TimeInterval = 15 * 60
    /// Clean-up steps are retried this many times, with exponential backoff from `retryDelay`,
    /// before the clean-up is left to the next rescan (never skipped).
    public var cleanupAttempts = 5
    public var retryDelay: TimeInterval = 1
    /// How long a replica's claim on a clean-up holds without progress before another may resume it.
    public var claimLease: TimeInterval = 60
    /// How often the store is rescanned for deadlines armed by other replicas or left behind.
    public var rescanInterval: TimeInterval = 30

    public init() {}
}
