import Foundation

/// Whether one more demo may start beside the demos active now: at most `limit` in all and
/// `perClientLimit` from one client, a client being what `AddressRange.clientKey(forAddress:)`
/// counts (an IPv4 address, an IPv6 /64), so that a host does not start a visitor's share of
/// demos from each address it holds. The stores act on it inside the insert's atomic step.
public enum DemoCapacity {
    /// What the rule reads of an active demo.
    public struct Active: Sendable, Equatable {
        public let clientAddress: String
        public let expiresAt: Date

        public init(clientAddress: String, expiresAt: Date) {
            self.clientAddress = clientAddress
            self.expiresAt = expiresAt
        }
    }

    /// The refusal (429) of `demo` beside `active`, naming when the soonest of the demos that fill
    /// the limit it meets ends; nil when it may start.
    public static func refusal(of demo: DemoSession, beside active: [Active], limit: Int, perClientLimit: Int) -> DomainError? {
        let client = AddressRange.clientKey(forAddress: demo.clientAddress)
        let fromClient = active.filter { AddressRange.clientKey(forAddress: $0.clientAddress) == client }
        for (filling, cap, what) in [
            (active, limit, "Too many demo sessions are running"),
            (fromClient, perClientLimit, "Too many demo sessions from this address"),
        ] where filling.count >= cap {
            let soonest = filling.map(\.expiresAt).min() ?? demo.createdAt.addingTimeInterval(60)
            return .rateLimited(
                "\(what); try again later", retryAfterSeconds: max(1, Int(soonest.timeIntervalSince(demo.createdAt).rounded(.up))))
        }
        return nil
    }
}
