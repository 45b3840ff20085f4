/// What a run under ``withTimeLimit(_:_:)`` came to.
public struct LimitedRun<Value: Sendable>: Sendable {
    /// What the body returned or threw; after the limit, what it did once cancelled.
    public let outcome: Result<Value, any Error>
    /// Whether the limit passed first and the body was cancelled.
    public let cutShort: Bool
}

/// Runs `body`, cancelling it if it has not ended within `limit`.
///
/// For a test of a timeout: without the timeout under test the body would wait for ever, and the
/// test would hang rather than fail. Pick a limit well past the timeout under test (CI's two
/// cores have stalled a process for seconds): it only tells a timeout that works from one that
/// does not, and a passing test never waits for it.
///
/// The body must end when cancelled (a task group waits for its tasks): one that waits on
/// something cancellation does not reach still hangs the test.
public func withTimeLimit<Value: Sendable>(
    _ limit: Duration, _ body: @escaping @Sendable () async throws -> Value
) async -> LimitedRun<Value> {
    await withTaskGroup(of: LimitedRun<Value>?.self) { group in
        group.addTask {
            do { return LimitedRun(outcome: .success(try await body()), cutShort: false) } catch {
                return LimitedRun(outcome: .failure(error), cutShort: false)
            }
        }
        group.addTask {
            try? await Task.sleep(for: limit)
            return nil
        }
        guard let first = await group.next(), let ended = first else {
            // The limit passed: cancel the body and keep what it did about it.
            group.cancelAll()
            let late = await group.next() ?? nil
            return LimitedRun(outcome: late?.outcome ?? .failure(CancellationError()), cutShort: true)
        }
        group.cancelAll()
        return ended
    }
}
