import Foundation

/// Polls `condition` until it holds or `seconds` pass; returns whether it held.
///
/// The bound only tells a condition that never comes true from one that is late: it returns as soon
/// as the condition holds, so a generous bound costs a passing test nothing. Keep the default for
/// work done in the background (clean-ups, rescans, caches following the store): on CI's two
/// cores, with every suite running at once, such work has taken more than ten seconds. Pass a
/// shorter bound only where the time itself is what the test claims.
public func eventually(
    within seconds: Double = 30, _ condition: () async throws -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1_000))
    repeat {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    } while ContinuousClock.now < deadline
    return try await condition()
}
