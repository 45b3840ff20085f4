import Foundation

/// Polls `condition` until it holds or `seconds` pass; returns whether it held.
public func eventually(within seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1_000))
    repeat {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    } while ContinuousClock.now < deadline
    return try await condition()
}
