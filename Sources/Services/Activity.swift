import Actors
import Domain
import Foundation
import Logging

/// Sign-ins and workspace launches of the last 24 hours (by hour) and the last 7 days (by day),
/// counted from the audit trail within the caller's scope, as the dashboard's figures are:
/// everyone's for an administrator, their organisation's, or their own. One read of the week's
/// sign-ins and launches (their times only), bucketed here; a result is kept a minute per scope
/// (and answered a minute more while the next is read beside it).
/// (The first version counted since each of 30 boundaries: 93 queries a view, and a 4 s p50 under
/// load with a scope per user; docs/benchmarks.md.)
///
/// The buckets are the UTC calendar's hours and days, as the chart labels them: the current hour
/// and the 23 before it, today and the 6 days before; the last bucket runs until now. (They were
/// once 24 and 7 spans counted back from now, so the bar labelled "Tue 1" held Tuesday's evening
/// and Wednesday's morning.)
public struct Activity: Sendable, Equatable {
    /// Buckets oldest first; `starts[i]` is where bucket `i` begins.
    public struct Series: Sendable, Equatable {
        public var starts: [Date]
        public var signIns: [Int]
        public var launches: [Int]
    }

    public var hours: Series
    public var days: Series

    static let hour: TimeInterval = 3_600
    static let day: TimeInterval = 86_400

    /// Where the chart of `now` begins: the start of the UTC day six days before today.
    public static func since(_ now: Date) -> Date {
        Series.start(of: now, bucket: day, count: 7)
    }

    /// `occurrences` (sign-ins and launches; any others are left out) in the buckets of `now`.
    public static func tally(_ occurrences: [AuditOccurrence], now: Date) -> Activity {
        Activity(
            hours: Series(occurrences, now: now, bucket: hour, count: 24), days: Series(occurrences, now: now, bucket: day, count: 7))
    }

    /// This count in the buckets of a later `now`: those that began since it was counted are
    /// empty (what happened since is not in it, as in any kept count) and those that ended before
    /// the first of them are gone. A count kept over an hour's turn shows the new hour without a
    /// new read of the trail.
    public func moved(to now: Date) -> Activity {
        Activity(hours: hours.moved(to: now, bucket: Self.hour), days: days.moved(to: now, bucket: Self.day))
    }
}

extension Activity.Series {
    /// Where the first of `count` buckets of `bucket` seconds ending with the one `now` is in
    /// begins. Unix time has no leap seconds: a UTC hour or day is a whole multiple of its length.
    static func start(of now: Date, bucket: TimeInterval, count: Int) -> Date {
        let current = (now.timeIntervalSince1970 / bucket).rounded(.down) * bucket
        return Date(timeIntervalSince1970: current - bucket * Double(count - 1))
    }

    init(_ occurrences: [AuditOccurrence], now: Date, bucket: TimeInterval, count: Int) {
        let start = Self.start(of: now, bucket: bucket, count: count)
        var signIns = Array(repeating: 0, count: count)
        var launches = Array(repeating: 0, count: count)
        for occurrence in occurrences where occurrence.at >= start && occurrence.at <= now {
            let index = min(count - 1, Int((occurrence.at.timeIntervalSince(start) / bucket).rounded(.down)))
            switch occurrence.action {
            case .launchWorkspace: launches[index] += 1
            case .login, .ssoLogin: signIns[index] += 1
            default: continue
            }
        }
        self.init(starts: (0..<count).map { start + bucket * Double($0) }, signIns: signIns, launches: launches)
    }

    /// These buckets moved on to those of `now` (`Activity.moved(to:)`); unchanged for a `now` in
    /// the same last bucket or before it (a clock set back).
    func moved(to now: Date, bucket: TimeInterval) -> Self {
        guard let first = starts.first else { return self }
        let count = starts.count
        let start = Self.start(of: now, bucket: bucket, count: count)
        let shift = Int((start.timeIntervalSince(first) / bucket).rounded())
        guard shift > 0 else { return self }
        let kept = max(0, count - shift)
        let empty = Array(repeating: 0, count: count - kept)
        return Self(
            starts: (0..<count).map { start + bucket * Double($0) }, signIns: Array(signIns.suffix(kept)) + empty,
            launches: Array(launches.suffix(kept)) + empty)
    }
}

public struct ActivityCounter: Sendable {
    private let store: any Store
    private let clock: WallClock
    /// A result per scope, moved on to the hour it is shown in. (Kept per scope and hour, every
    /// scope's chart was read anew at each hour's turn, all viewers waiting for theirs at once.)
    private let recent: RecentValues<AuditScope, Activity>

    /// - Parameters:
    ///   - logger: where a chart that could not be read again is told of (its last one is shown
    ///     meanwhile, for a minute at most).
    public init(store: any Store, clock: WallClock, logger: Logger? = nil) {
        self.store = store
        self.clock = clock
        // A chart per scope, about 1 KB each: everyone's, each organisation's, and each user's
        // outside one, of whom a thousand once pushed each other out at every view.
        // Fresh for a minute; for a minute more it is answered while the next is read beside it,
        // so a caller who looks often never waits for their chart.
        recent = RecentValues(maxAge: 60, servedStale: 60, capacity: 10_000, clock: clock) { scope, error in
            logger?.warning(
                "could not read the activity chart again; its last one is shown for a minute more",
                metadata: ["scope": "\(scope)", "error": "\(error)"])
        }
    }

    public func activity(for principal: Principal) async throws -> Activity {
        let scope: AuditScope =
            principal.isAdmin ? .everyone : principal.organizationID.map { .organization($0) } ?? .user(principal.userID)
        let now = clock.now()
        return try await recent.value(for: scope) { [store] in
            try await Self.count(store: store, scope: scope, now: now)
        }
        .moved(to: now)
    }

    /// Entries read for one chart at most; past it the oldest buckets are short (a trail that
    /// busy is a store to aggregate in, not to read).
    static let readLimit = 200_000

    static func count(store: any Store, scope: AuditScope, now: Date) async throws -> Activity {
        let occurrences = try await store.occurrences(
            of: [.login, .ssoLogin, .launchWorkspace], since: Activity.since(now), scope: scope, limit: readLimit)
        return Activity.tally(occurrences, now: now)
    }
}
