import Domain

/// Every entry a query selects, newest first, read a page at a time: each page continues after
/// the last entry of the one before (`AuditQuery.before`), so an export of millions of entries
/// holds one page, and entries written meanwhile neither repeat nor shift what follows.
public struct AuditPages: AsyncSequence, Sendable {
    public typealias Element = [AuditEvent]

    private let store: any AuditStore
    private let query: AuditQuery

    /// - Parameter query: the filters; its `limit` is replaced by `pageSize`.
    public init(store: any AuditStore, query: AuditQuery, pageSize: Int = 1_000) {
        self.store = store
        var query = query
        query.limit = pageSize
        self.query = query
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(store: store, query: query)
    }

    public struct Iterator: AsyncIteratorProtocol, Sendable {
        private let store: any AuditStore
        private var query: AuditQuery
        private var finished = false

        init(store: any AuditStore, query: AuditQuery) {
            self.store = store
            self.query = query
        }

        /// The next page (never empty), or nil after the last.
        public mutating func next() async throws -> [AuditEvent]? {
            guard !finished else { return nil }
            let page = try await store.events(query)
            finished = page.count < query.limit
            guard let last = page.last else { return nil }
            query.before = last.id
            return page
        }
    }
}
