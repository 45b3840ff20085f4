import Foundation
import Synchronization

/// The audit chain's head as the writer's open transaction has it: read by the first append of a
/// transaction, then carried from each append to the next, so that an entry costs one statement
/// (and one hand-off to SQLite's thread pool) instead of two. Only the writer's holder uses it.
/// It is forgotten whenever what it describes may no longer hold: when a transaction opens
/// (another process may have appended between two of ours), on any rollback, and when entries
/// are removed.
final class ChainHeadCache: Sendable {
    struct Head: Sendable {
        let seq: Int64
        let hash: [UInt8]
        /// The head entry's time, which the next entry's may not precede; nil after a retention
        /// anchor or at the genesis.
        let timestamp: Date?
    }

    private let head = Mutex<Head?>(nil)

    /// The head, when known; nil when it is to be read from the store.
    var current: Head? { head.withLock { $0 } }

    func remember(_ new: Head) { head.withLock { $0 = new } }

    func forget() { head.withLock { $0 = nil } }
}
