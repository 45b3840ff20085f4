import Domain
import Foundation
import Logging

/// Where the audit trail is forwarded (a SIEM): syslog, a webhook. `deliver` returns once the
/// target has taken the entries, or throws.
public protocol AuditSink: Sendable {
    /// Names the target's durable cursor (`audit_forwarding`): stable across restarts.
    var name: String { get }
    func deliver(_ entries: [AuditEvent]) async throws
}

/// Delivers the audit trail to one `AuditSink`, in `seq` order, at least once: a durable cursor in
/// the store records how far delivery got, and moves only after the target took a batch, so
/// entries are sent again after a crash or an outage of the target, never skipped (each carries
/// its `seq`, by which the target drops a repeat). A target that is down is retried with backoff,
/// in the background: requests never wait for it.
public struct AuditForwarder: Sendable {
    private let store: any AuditStore
    private let sink: any AuditSink
    private let clock: WallClock
    private let batchSize: Int
    private let logger: Logger

    public init(store: any AuditStore, sink: any AuditSink, clock: WallClock, batchSize: Int = 100, logger: Logger) {
        self.store = store
        self.sink = sink
        self.clock = clock
        self.batchSize = batchSize
        self.logger = logger
    }

    /// Delivers every entry after the cursor, a batch at a time, until caught up; how many.
    @discardableResult
    public func forwardPending() async throws -> Int {
        var delivered = 0
        var cursor = try await store.forwardingCursor(sink.name)
        while true {
            let page = try await store.chain(from: cursor + 1, limit: batchSize)
            let batch = page.filter { $0.seal != nil }
            guard let last = batch.last?.seal?.seq else { return delivered }
            // The chain has no gaps and every entry a seal unless it was changed behind NeoSC's
            // back: say so loudly (what is there is still delivered; verification says the rest).
            var expected = cursor + 1
            for entry in batch {
                if entry.seal?.seq != expected {
                    logger.error(
                        "the audit trail has a gap or an unsealed entry: forwarding skips it; run a verification",
                        metadata: ["target": "\(sink.name)", "expected_seq": "\(expected)", "found_seq": "\(entry.seal?.seq ?? 0)"])
                }
                expected = (entry.seal?.seq ?? expected) + 1
            }
            try await sink.deliver(batch)
            try await store.advanceForwardingCursor(sink.name, to: last, at: clock.now())
            cursor = last
            delivered += batch.count
            if page.count < batchSize { return delivered }
        }
    }

    /// Forwards until cancelled: looks for new entries every `poll`; after a failure waits
    /// `retry`, doubled after each further failure up to `maxRetry`.
    public func run(poll: Duration = .seconds(1), retry: Duration = .seconds(1), maxRetry: Duration = .seconds(60)) async {
        var wait = retry
        var failing = false
        var failures = 0
        while !Task.isCancelled {
            do {
                let delivered = try await forwardPending()
                if failing {
                    logger.notice("audit forwarding resumed", metadata: ["target": "\(sink.name)", "delivered": "\(delivered)"])
                }
                failing = false
                failures = 0
                wait = retry
                try? await Task.sleep(for: poll)
            } catch is CancellationError {
                return
            } catch {
                // Once when it starts failing, then every tenth attempt (about every ten minutes at the longest wait).
                if failures % 10 == 0 {
                    logger.warning(
                        "audit forwarding failed; retrying with backoff",
                        metadata: ["target": "\(sink.name)", "error": "\(error)", "attempts": "\(failures + 1)"])
                }
                failures += 1
                failing = true
                try? await Task.sleep(for: wait)
                wait = min(wait * 2, maxRetry)
            }
        }
    }
}
