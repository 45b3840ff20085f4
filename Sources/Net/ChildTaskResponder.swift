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

    public func respond(to request: Request, context: Context) async throws -> Response {
        async let response = inner.respond(to: request, context: context)
        return try await response
    }
}
