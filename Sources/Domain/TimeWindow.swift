import Foundation
import Synchronization

/// Opening hours in a named time zone: the days and the local times a window is open, correct
/// across daylight-saving changes (the zone's offset is taken for each instant). An overnight
/// window (`start` after `end`) belongs to the day it opens on: Friday 22:00–06:00 is open until
/// Saturday 06:00.
public struct TimeWindow: Sendable, Equatable {
    public enum Day: String, Sendable, CaseIterable, Codable {
        case mon, tue, wed, thu, fri, sat, sun

    }

    public var days: Set<Day> {
        didSet { dayMask = Self.mask(days) }
    }
    /// `days` as bits, Monday first: what every request reads (a set would hash).
    private var dayMask: UInt8
    /// Minutes after local midnight.
    public var start: Int
    public var end: Int
    public let timeZone: TimeZone
    /// The zone's name as it was written (Foundation may answer another name for the same zone:
    /// `GMT` for `UTC`).
    public var zoneName: String

    public var overnight: Bool { start > end }
    /// The zone's offset, remembered until its next transition.
    private let offsets: ZoneOffsets

    public init(days: Set<Day>, start: Int, end: Int, timeZone: TimeZone, zoneName: String? = nil) {
        self.days = days
        self.dayMask = Self.mask(days)
        self.start = start
        self.end = end
        self.timeZone = timeZone
        self.zoneName = zoneName ?? timeZone.identifier
        self.offsets = ZoneOffsets(timeZone)
    }

    static func mask(_ days: Set<Day>) -> UInt8 {
        Day.allCases.enumerated().reduce(0) { mask, day in days.contains(day.element) ? mask | 1 << day.offset : mask }
    }

    /// Whether the window's days include the one `daysSinceEpoch` days after 1970-01-01 (a Thursday).
    func includes(daysSinceEpoch days: Int) -> Bool {
        dayMask & 1 << (((days % 7) + 7 + 3) % 7) != 0
    }

    public static func == (left: TimeWindow, right: TimeWindow) -> Bool {
        left.days == right.days && left.start == right.start && left.end == right.end && left.zoneName == right.zoneName
            && left.timeZone == right.timeZone
    }

    /// Whether the window is open at `date`.
    public func isOpen(at date: Date) -> Bool {
        let local = localSeconds(date)
        let day = Int((Double(local) / 86_400).rounded(.down))
        let minute = (local - day * 86_400) / 60
        if !overnight {
            return includes(daysSinceEpoch: day) && minute >= start && minute < end
        }
        // Open from `start` to midnight on a listed day, and from midnight to `end` on the day after one.
        return (includes(daysSinceEpoch: day) && minute >= start) || (includes(daysSinceEpoch: day - 1) && minute < end)
    }

    /// The next instant after `date` at which the window opens (nil when it has no day). A day
    /// whose window falls wholly in the hour skipped when summer time begins (Sunday 02:00–02:30
    /// in Berlin on that Sunday) has no opening: the window is not open at the instant the clocks
    /// jump, so that day is passed over, as `isOpen` passes it over.
    public func nextOpening(after date: Date) -> Date? {
        let local = localSeconds(date)
        let today = Int((Double(local) / 86_400).rounded(.down))
        for day in today...(today + 15) where includes(daysSinceEpoch: day) {
            let opening = instant(localSeconds: day * 86_400 + start * 60)
            if opening > date, isOpen(at: opening) { return opening }
        }
        return nil
    }

    /// Seconds since the epoch on the zone's wall clock at `date`.
    func localSeconds(_ date: Date) -> Int {
        Int(date.timeIntervalSince1970.rounded(.down)) + offsets.secondsFromGMT(for: date)
    }

    /// The first instant whose wall-clock time is `local`: in an hour repeated when summer time
    /// ends, its first occurrence; in the hour skipped when it begins, the instant the clocks
    /// jump over it (the window opens then). The zone's offsets a day either side give the
    /// candidates; a skipped time is found between them by bisection.
    func instant(localSeconds local: Int) -> Date {
        func offset(_ seconds: Int) -> Int { timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(seconds))) }
        func wall(_ seconds: Int) -> Int { seconds + offset(seconds) }
        let candidates = Set([local - offset(local - 86_400), local - offset(local + 86_400)]).sorted()
        if let valid = candidates.first(where: { wall($0) == local }) {
            return Date(timeIntervalSince1970: Double(valid))
        }
        // Skipped: the wall clock is before `local` at the earlier candidate and past it at the later.
        var (low, high) = (candidates[0], candidates[candidates.count - 1])
        while high - low > 1 {
            let middle = low + (high - low) / 2
            if wall(middle) >= local { high = middle } else { low = middle }
        }
        return Date(timeIntervalSince1970: Double(high))
    }

    /// `HH:MM` → minutes after midnight (`24:00` is the end of the day); nil when not a time.
    public static func minutes(_ text: String) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
            parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
            let hours = Int(parts[0]), let minutes = Int(parts[1]), minutes < 60,
            hours < 24 || (hours == 24 && minutes == 0)
        else { return nil }
        return hours * 60 + minutes
    }

    public static func text(minutes: Int) -> String {
        let hours = minutes / 60
        let rest = minutes % 60
        return (hours < 10 ? "0" : "") + String(hours) + ":" + (rest < 10 ? "0" : "") + String(rest)
    }
}

/// A zone's offset from UTC, remembered for the quarter hour (of UTC) it was asked for: every
/// request asks it, and Foundation answers through ICU behind a lock that the event-loop threads
/// would otherwise queue on. Today's zones change their offset only at quarter-hour instants; a
/// quarter hour that holds a change (some past ones did not fall on the quarter) is not
/// remembered.
final class ZoneOffsets: Sendable {
    private struct Known {
        var quarterHour: Int
        var offset: Int
    }

    private let timeZone: TimeZone
    private let known = Mutex<Known?>(nil)

    init(_ timeZone: TimeZone) {
        self.timeZone = timeZone
    }

    func secondsFromGMT(for date: Date) -> Int {
        let quarterHour = Int((date.timeIntervalSince1970 / 900).rounded(.down))
        if let known = known.withLock({ $0 }), known.quarterHour == quarterHour { return known.offset }
        let offset = timeZone.secondsFromGMT(for: date)
        // Remembered only when the whole quarter hour has one offset (some past changes fell
        // between quarter hours).
        let first = Date(timeIntervalSince1970: Double(quarterHour * 900))
        if timeZone.secondsFromGMT(for: first) == offset, timeZone.secondsFromGMT(for: first + 899) == offset {
            known.withLock { $0 = Known(quarterHour: quarterHour, offset: offset) }
        }
        return offset
    }
}
