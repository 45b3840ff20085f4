/// Runs the work handed to it one piece at a time, in the order handed, each piece to its end
/// even when the caller that handed it is cancelled. Once closed it runs nothing more: work
/// handed to it afterwards is answered nil, unrun.
public actor OneAtATime {
    private var tail: Task<Void, Never>?
    private var isClosed = false

    public init() {}

    /// Runs `work` once everything handed in before it has ended; nil once closed.
    public func run<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async throws -> T? {
        guard !isClosed else { return nil }
        return try await enqueue(work).value
    }

    /// Runs `work` once everything handed in before it has ended, as the last piece: nothing
    /// handed in after it runs. Nil when closed already.
    public func runLast<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async throws -> T? {
        guard !isClosed else { return nil }
        isClosed = true
        return try await enqueue(work).value
    }

    private func enqueue<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) -> Task<T, any Error> {
        let previous = tail
        let task = Task<T, any Error> {
            await previous?.value
            return try await work()
        }
        tail = Task { _ = try? await task.value }
        return task
    }
}
