import Actors
import Domain
import NIOCore
import Synchronization

/// A page of the audit trail as the list's JSON (`[entry,entry,…]`, as `AuditEventWriter` writes
/// it), each sealed entry of a newest page encoded once. A sealed entry never changes: its hash
/// covers every field and the next entry's covers its hash. So its bytes are kept, and a page
/// read again costs its ids and a copy, not a decode and an encode per entry. An entry not sealed
/// yet (a MongoDB transaction stages one until its seal) is written afresh each time.
///
/// Only a selection's newest page is read that way: that is the page read again and again (a
/// dashboard, a poller). A page after a cursor is a walk through history, each page read once;
/// reading its ids first would add a statement to every page for nothing (`audit-pages` in
/// docs/benchmarks.md: 0.56 of the single read), so it is read whole, in one, and not kept.
///
/// A newest page whose ids are those of the page last written for the same selection, every entry
/// sealed, is that page's bytes again (`NewestPages`): nothing looked up per entry, nothing copied.
/// And while the trail stands where it stood when that page was read (`AuditTrailVersion`, two
/// seeks on SQLite), the page is answered without reading its ids at all: reading them was a
/// quarter of a list's CPU.
struct AuditListWriter: Sendable {
    let store: any AuditStore
    let kept: UnchangingValues<String, [UInt8]>
    let newest: NewestPages

    /// How many encoded entries a server keeps: a hundred pages of 100, about 10 MiB (measured).
    static let keptEntries = 10_000

    func list(_ query: AuditQuery) async throws -> ByteBuffer {
        guard query.before == nil else {
            let events = try await store.events(query)
            var buffer = ByteBuffer()
            buffer.reserveCapacity(events.count * 512)  // a sealed entry is about 500 bytes
            AuditEventWriter.writeArray(events, into: &buffer)
            return buffer
        }
        // Read before the ids: a page read after it holds at least what the trail held then, and
        // a version once left never comes back, so the page is answered only while nothing changed.
        let version = try await store.trailVersion()
        if let version, let page = newest.page(for: query, at: version) { return page }
        let ids = try await store.eventIDs(query)
        if let page = newest.page(for: query, ids: ids, confirming: version) { return page }
        var entries = await kept.values(for: ids)
        let missing = zip(ids, entries).compactMap { id, bytes in bytes == nil ? id : nil }
        var allSealed = true
        if !missing.isEmpty {
            let read = Self.encode(try await store.events(ids: missing))
            for index in entries.indices where entries[index] == nil { entries[index] = read.all[ids[index]] }
            if !read.sealed.isEmpty { await kept.keep(read.sealed) }
            allSealed = read.sealed.count == missing.count
        }
        // In the page's order. An entry removed between the two reads (retention) is left out,
        // as a read a moment later would leave it out.
        let found = entries.compactMap { $0 }
        var buffer = ByteBuffer()
        buffer.reserveCapacity(found.reduce(2) { $0 + $1.count + 1 })
        AuditEventWriter.writeArray(found, into: &buffer) { bytes, buffer in buffer.writeBytes(bytes) }
        if allSealed, found.count == ids.count { newest.keep(buffer, for: query, ids: ids, at: version) }
        return buffer
    }

    /// Each entry's JSON by id, and the sealed ones' again: those that may be kept.
    static func encode(_ events: [AuditEvent]) -> (all: [String: [UInt8]], sealed: [String: [UInt8]]) {
        var all: [String: [UInt8]] = [:]
        var sealed: [String: [UInt8]] = [:]
        var scratch = ByteBuffer()
        for event in events {
            scratch.clear()
            AuditEventWriter.write(event, into: &scratch)
            let bytes = Array(scratch.readableBytesView)
            all[event.id] = bytes
            if event.seal != nil { sealed[event.id] = bytes }
        }
        return (all, sealed)
    }
}

/// The newest page last written for each selection, with the ids it holds: while a selection's
/// newest ids are the same, its page is the same bytes (every entry in it sealed, so unchanging).
/// At most `capacity` selections and `budget` bytes of pages (8 MiB: 160 pages of 100 entries, 32
/// of the largest, 500); past either, arbitrary pages make room, one at a time (callers choose the
/// selections, so many of them must not empty the cache for everyone).
final class NewestPages: Sendable {
    private struct Page {
        let ids: [String]
        let body: ByteBuffer
        /// Where the trail stood before the page was read (nil: unknown).
        var version: AuditTrailVersion?
    }

    private struct Pages {
        var byQuery: [AuditQuery: Page] = [:]
        var bytes = 0
    }

    private let pages = Mutex(Pages())
    private let capacity: Int
    private let budget: Int

    init(capacity: Int = 64, budget: Int = 8 << 20) {
        self.capacity = capacity
        self.budget = budget
    }

    /// The page kept for `query` when the trail still stands at `version`, where it stood before
    /// the page was read.
    func page(for query: AuditQuery, at version: AuditTrailVersion) -> ByteBuffer? {
        pages.withLock { pages in pages.byQuery[query].flatMap { $0.version == version ? $0.body : nil } }
    }

    /// The page kept for `query` when it holds exactly `ids`, in that order; it is then the page
    /// at `version` too, read before those ids.
    func page(for query: AuditQuery, ids: [String], confirming version: AuditTrailVersion?) -> ByteBuffer? {
        pages.withLock { pages in
            guard let page = pages.byQuery[query], page.ids == ids else { return nil }
            pages.byQuery[query]?.version = version
            return page.body
        }
    }

    func keep(_ body: ByteBuffer, for query: AuditQuery, ids: [String], at version: AuditTrailVersion?) {
        guard body.readableBytes <= budget else { return }
        pages.withLock { pages in
            if let replaced = pages.byQuery.removeValue(forKey: query) { pages.bytes -= replaced.body.readableBytes }
            while pages.byQuery.count >= capacity || pages.bytes + body.readableBytes > budget,
                let (_, dropped) = pages.byQuery.popFirst()
            {
                pages.bytes -= dropped.body.readableBytes
            }
            pages.byQuery[query] = Page(ids: ids, body: body, version: version)
            pages.bytes += body.readableBytes
        }
    }
}
