import HummingbirdCore

/// Answers each request of a connection in a child task of the connection's task, so that what
/// answering it took on the task's stack is given back when the answer is written.
///
/// Swift's task allocator keeps the slabs a task has grown for its deepest frames until the
/// task ends, and Hummingbird answers every request of a keep-alive connection in that
/// connection's task: an idle connection went on holding the memory its last request's frames
/// needed (issue #16). The child is a task group's, allocated on its own and freed with it (an
/// `async let` child is allocated on its parent's stack, so its first slab would stay), and it
/// starts at the channel's responder, so that Hummingbird's own per-request frames (the
/// request's logger, the router's responder) go with it too: heaptrack found each of them
/// holding about 1 KiB per idle connection.
enum ChildTaskResponder {
    static func wrapping(_ responder: @escaping HTTPChannelHandler.Responder) -> HTTPChannelHandler.Responder {
        { request, writer, channel in
            let handoff = WriterHandoff(writer)
            try await withThrowingTaskGroup(of: Void.self) { group in
                let answer: @Sendable () async throws -> Void = {
                    // Taken exactly once: this is the only child, and the only taker.
                    guard let writer = handoff.take() else { preconditionFailure("a response writer taken twice") }
                    try await responder(request, writer, channel)
                }
                // Started at once, on this thread, up to its first suspension: an answer that
                // never waits is not queued for another of the pool's threads first (measured:
                // from no gain to a sixth less CPU per `GET /api/`, docs/benchmarks.md).
                if #available(macOS 26, iOS 26, tvOS 26, watchOS 26, visionOS 26, *) {
                    group.addImmediateTask(operation: answer)
                } else {
                    group.addTask(operation: answer)
                }
                // The child's error, if any, is the request's.
                try await group.waitForAll()
            }
        }
    }
}

/// Moves a connection's response writer (which cannot be copied) into the task that answers.
///
/// Unchecked: Hummingbird does not mark `ResponseWriter` `Sendable` (its only state is the
/// channel's `NIOAsyncChannelOutboundWriter`, which is). The writer is stored before the child
/// task exists and taken only by that child, so creating the task orders the one write before
/// the one read.
private final class WriterHandoff: @unchecked Sendable {
    private var writer: ResponseWriter?

    init(_ writer: consuming ResponseWriter) {
        self.writer = .some(writer)
    }

    func take() -> ResponseWriter? {
        writer.take()
    }
}
