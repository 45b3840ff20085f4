/// Where the audit trail stands: the newest and the oldest entry's `seq`. An entry is only ever
/// added after the newest and removed from the oldest end (retention), so any change moves one
/// of them forward, and a version once left is never seen again (an empty trail aside, whose
/// every selection is empty anyway). While the version is the same, every selection of entries
/// reads the same: a reader may answer again what it answered at that version.
public struct AuditTrailVersion: Sendable, Hashable {
    public var newest: Int64?
    public var oldest: Int64?

    public init(newest: Int64?, oldest: Int64?) {
        self.newest = newest
        self.oldest = oldest
    }
}
