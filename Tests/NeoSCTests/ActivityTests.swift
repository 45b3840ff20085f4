import Domain
import Foundation
import TestSupport
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

/// A chart kept over an hour's turn is moved on to the new hour, not read again: at each turn every
/// viewer's chart was read at once (issue #12's dashboard latency).
@Suite("Dashboard activity: a kept chart moved on to the hour it is shown in")
struct MovedActivityTests {
    static let midnight = ActivityTests.midnight

    @Test("a count moved into the next hour: the hours shift by one, the new one empty; the days stay until midnight")
    func aCountMovesIntoTheNextHour() {
        let counted = Activity.tally(
            [
                AuditOccurrence(action: .login, at: Self.midnight - 3_600 - 30),  // 22:59:30 on Tuesday
                AuditOccurrence(action: .launchWorkspace, at: Self.midnight - 30),  // 23:59:30
            ], now: Self.midnight - 20)
        let sameHour = counted.moved(to: Self.midnight - 3_600 + 10)
        #expect(sameHour == counted, "23:00:10 is in the hour it was counted in: nothing moves")
        let moved = counted.moved(to: Self.midnight + 10)
        let recounted = Activity.tally(
            [
                AuditOccurrence(action: .login, at: Self.midnight - 3_600 - 30),
                AuditOccurrence(action: .launchWorkspace, at: Self.midnight - 30),
            ], now: Self.midnight + 10)
        #expect(moved == recounted, "the same as counting the same occurrences at the new now")
        #expect(moved.hours.starts.last == Self.midnight && moved.hours.launches.suffix(2) == [1, 0])
        #expect(moved.days.starts.last == Self.midnight && moved.days.launches.suffix(2) == [1, 0])
        #expect(counted.moved(to: Self.midnight - 86_400) == counted, "a clock set back moves nothing")
    }

    @Test("moved past every bucket: all empty, the buckets those of the new now")
    func aCountMovedPastItsBuckets() {
        let counted = Activity.tally([AuditOccurrence(action: .login, at: Self.midnight - 60)], now: Self.midnight - 30)
        let moved = counted.moved(to: Self.midnight + 8 * 86_400)
        #expect(moved == Activity.tally([], now: Self.midnight + 8 * 86_400))
        #expect(moved.hours.signIns.allSatisfy { $0 == 0 } && moved.days.signIns.allSatisfy { $0 == 0 })
    }

    @Test("the counter keeps a scope's chart over the hour's turn and shows it moved on, with no new read")
    func theCounterMovesAKeptChart() async throws {
        try await Harness.withStore(.embedded) { store in
            let clock = ManualClock(Self.midnight + 86_400 - 30)  // Wednesday 23:59:30
            let counter = ActivityCounter(store: store, clock: clock.wallClock)
            let principal = Principal(
                userID: "usr-moved", email: "moved@example.com", name: "M", role: .user, organizationID: nil, mfaVerified: false,
                credentialDigest: "d", credentialExpiresAt: clock.now + 3_600)
            func login(at time: Date) async throws {
                try await store.append(
                    AuditEvent(
                        timestamp: time, userID: principal.userID, userEmail: principal.email, action: .login, ipAddress: nil,
                        success: true))
            }
            try await login(at: clock.now - 10)
            let before = try await counter.activity(for: principal)
            #expect(before.hours.signIns.last == 1)
            try await login(at: clock.now + 35)  // Thursday 00:00:05, after the chart was read
            clock.advance(40)  // Thursday 00:00:10: 40 s after the read, within its minute
            let after = try await counter.activity(for: principal)
            #expect(after.hours.starts.last == Self.midnight + 86_400, "the new hour is the last bucket")
            #expect(after.days.starts.last == Self.midnight + 86_400, "and the new day")
            #expect(after == before.moved(to: clock.now), "the kept chart, moved on: the new sign-in is not read yet")
            #expect(after.hours.signIns.suffix(2) == [1, 0])
        }
    }
}
