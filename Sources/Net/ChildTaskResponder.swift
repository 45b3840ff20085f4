import Hummingbird

/// Answers each request in a child task of the connection's task, so that what answering it
/// took on the task's stack is given back when the answer is ready.
///
/// Swift's task allocator keeps the slabs a task has grown for its deepest frames until the
/// task ends, and Hummingbird answers every request of a keep-alive connection in that
/// connection's task: an idle connection went on holding the memory its first request's
/// middleware chain needed. A child task's slabs go with the child.
public struct ChildTaskResponder<Inner: HTTPResponder>: HTTPResponder where Inner.Context: Sendable {
    public typealias Context = Inner.Context

    let inner: Inner

    public init(_ inner: Inner) {
        self.inner = inner
    }

    /// A task group's child, not an `async let`: an `async let` child is allocated on its
    /// parent's task stack, so its first slab stayed with the connection's task (heaptrack: about
    /// 1 KiB per idle connection); a group's child is allocated on its own and freed with it.
    public func respond(to request: Request, context: Context) async throws -> Response {
        try await withThrowingTaskGroup(of: Response.self) { group in
            group.addTask { try await inner.respond(to: request, context: context) }
            // The one child's answer or error: `next()` returns nil only for an empty group.
            guard let response = try await group.next() else { preconditionFailure("a group of one child gave no result") }
            return response
        }
    }
}
