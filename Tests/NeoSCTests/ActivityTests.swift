import Domain
import Foundation
import Testing

@testable import Net
@testable import Services

/// The dashboard's chart counts in the buckets its labels name: UTC hours and UTC days.
@Suite("Dashboard activity: sign-ins and launches by UTC hour and day")
struct ActivityTests {
    /// Wednesday 14 July 2100, 00:00 UTC.
    static let midnight = Date(timeIntervalSince1970: 4_119_206_400)

    @Test("the current hour and the 23 before it, today and the 6 days before; each occurrence in the bucket its time names")
    func bucketsAreTheCalendars() {
        let now = Self.midnight + 2.5 * 3_600  // Wednesday 02:30
        func at(_ action: AuditAction, _ offset: TimeInterval) -> AuditOccurrence {
            AuditOccurrence(action: action, at: Self.midnight + offset)
        }
        let counted = Activity.tally(
            [
                at(.login, -1),  // Tuesday 23:59:59: Tuesday's bar, the 23:00 bar
                at(.launchWorkspace, 0),  // Wednesday 00:00: today's, the 00:00 bar
                at(.ssoLogin, 2.5 * 3_600 - 60),  // Wednesday 02:29: the current hour
                at(.login, -21 * 3_600 - 1),  // Tuesday 02:59:59: before the first hour, in Tuesday's bar
                at(.login, -6 * 86_400),  // Thursday 8 July 00:00: the first day's bar
                at(.login, -6 * 86_400 - 1),  // Wednesday 7 July 23:59:59: before the chart
                at(.login, 2.5 * 3_600 + 1),  // after now (another replica's clock): not shown
                at(.stopWorkspace, 60),  // neither a sign-in nor a launch
            ], now: now)

        #expect(counted.hours.starts.count == 24 && counted.days.starts.count == 7)
        #expect(counted.hours.starts.first == Self.midnight - 21 * 3_600 && counted.hours.starts.last == Self.midnight + 2 * 3_600)
        #expect(counted.days.starts.first == Self.midnight - 6 * 86_400 && counted.days.starts.last == Self.midnight)
        #expect(Activity.since(now) == Self.midnight - 6 * 86_400, "the store is read from the first day's start")
        #expect(counted.hours.starts.map(DashboardPage.hour).allSatisfy { $0.hasSuffix(":00") })
        #expect(counted.hours.starts.map(DashboardPage.hour).suffix(4) == ["23:00", "00:00", "01:00", "02:00"])
        #expect(counted.days.starts.map(DashboardPage.day) == ["Thu 8", "Fri 9", "Sat 10", "Sun 11", "Mon 12", "Tue 13", "Wed 14"])

        #expect(counted.hours.signIns.suffix(4) == [1, 0, 0, 1] && counted.hours.signIns.reduce(0, +) == 2)
        #expect(counted.hours.launches.suffix(4) == [0, 1, 0, 0] && counted.hours.launches.reduce(0, +) == 1)
        #expect(counted.days.signIns == [1, 0, 0, 0, 0, 2, 1])
        #expect(counted.days.launches == [0, 0, 0, 0, 0, 0, 1])
    }

    @Test("on the hour and at midnight the new bucket is the last one, holding only what happened since")
    func aNewBucketStartsEmpty() {
        let counted = Activity.tally(
            [AuditOccurrence(action: .login, at: Self.midnight - 1), AuditOccurrence(action: .login, at: Self.midnight)],
            now: Self.midnight)
        #expect(counted.hours.starts.last == Self.midnight && counted.days.starts.last == Self.midnight)
        #expect(counted.hours.signIns.suffix(2) == [1, 1] && counted.days.signIns.suffix(2) == [1, 1])
    }
}
