/// Where a trail with entries stands: its newest entry (`seq` and hash) and its oldest `seq`. An
/// entry is only ever added after the newest and removed from the oldest end (retention), so any
/// change moves one of them, and a version once left is never seen again: even if the newest row
/// were deleted by hand and its `seq` taken by the next entry, that entry's hash (which covers its
/// id and time) differs. While the version is the same, every selection of entries reads the same:
/// a reader may answer again what it answered at that version.
public struct AuditTrailVersion: Sendable, Hashable {
    public var newest: Int64
    public var newestHash: [UInt8]
    public var oldest: Int64

    public init(newest: Int64, newestHash: [UInt8] = [], oldest: Int64) {
        self.newest = newest
        self.newestHash = newestHash
        self.oldest = oldest
    }
}
