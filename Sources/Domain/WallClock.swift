import Foundation

/// The injected source of "now", and of waiting for a later "now", so expiry rules and the
/// scheduler are tested with a clock the test controls.
public struct WallClock: Sendable {
    private let read: @Sendable () -> Date
    private let waitUntil: @Sendable (Date) async throws -> Void

    /// A clock that reads `read` and waits in real time for the distance to a deadline.
    public init(_ read: @escaping @Sendable () -> Date) {
        self.init(read) { deadline in
            let seconds = max(0, deadline.timeIntervalSince(read()))
            try await Task.sleep(for: .milliseconds(Int64((seconds * 1_000).rounded(.up))))
        }
    }

    /// A clock that reads `read` and waits with `sleepUntil`, which returns once `read()` has
    /// reached the deadline and throws `CancellationError` when its task is cancelled.
    public init(_ read: @escaping @Sendable () -> Date, sleepUntil: @escaping @Sendable (Date) async throws -> Void) {
        self.read = read
        self.waitUntil = sleepUntil
    }

    public static let system = WallClock { Date() }

    public func now() -> Date { read() }

    /// Returns once the clock reads `deadline` or later; throws if the task is cancelled first.
    public func sleep(until deadline: Date) async throws {
        try await waitUntil(deadline)
    }
}
