import Foundation

/// The injected source of "now", so expiry rules are tested with a clock the test controls.
public struct WallClock: Sendable {
    private let read: @Sendable () -> Date

    public init(_ read: @escaping @Sendable () -> Date) {
        self.read = read
    }

    public static let system = WallClock { Date() }

    public func now() -> Date { read() }
}
