import Domain
import Foundation
import Testing

@Suite struct DemoCapacityTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func demo(from address: String) -> DemoSession {
        DemoSession(
            id: "demo-new", userID: "usr-new", workspaceID: "ws-browser", workspaceType: "browser", contactEmail: nil,
            clientAddress: address, createdAt: now, expiresAt: now + 1_800, maxExpiresAt: now + 7_200)
    }

    static func active(_ address: String, endsIn seconds: TimeInterval) -> DemoCapacity.Active {
        DemoCapacity.Active(clientAddress: address, expiresAt: now + seconds)
    }

    @Test("a client is an IPv4 address or an IPv6 /64: its other addresses share its demos")
    func aClientIsItsSlash64() {
        let running = [Self.active("2001:db8:5:1::1", endsIn: 300), Self.active("192.0.2.7", endsIn: 100)]
        for sameClient in ["2001:db8:5:1::2", "2001:db8:5:1:ffff:ffff:ffff:ffff", "192.0.2.7", "::ffff:192.0.2.7"] {
            let refusal = DemoCapacity.refusal(of: Self.demo(from: sameClient), beside: running, limit: 10, perClientLimit: 1)
            #expect(refusal?.detail == "Too many demo sessions from this address; try again later", "\(sameClient)")
        }
        for otherClient in ["2001:db8:5:2::1", "192.0.2.8", "unknown"] {
            #expect(DemoCapacity.refusal(of: Self.demo(from: otherClient), beside: running, limit: 10, perClientLimit: 1) == nil)
        }
    }

    @Test("the overall limit first; a refusal names when the soonest of the demos filling its limit ends")
    func refusalsNameTheSoonestEnd() {
        let running = [
            Self.active("2001:db8:5:1::1", endsIn: 900), Self.active("2001:db8:5:1::9", endsIn: 400),
            Self.active("198.51.100.1", endsIn: 120),
        ]
        let full = DemoCapacity.refusal(of: Self.demo(from: "203.0.113.1"), beside: running, limit: 3, perClientLimit: 3)
        #expect(full == .rateLimited("Too many demo sessions are running; try again later", retryAfterSeconds: 120))
        let fromClient = DemoCapacity.refusal(of: Self.demo(from: "2001:db8:5:1::3"), beside: running, limit: 10, perClientLimit: 2)
        #expect(fromClient == .rateLimited("Too many demo sessions from this address; try again later", retryAfterSeconds: 400))
        #expect(DemoCapacity.refusal(of: Self.demo(from: "2001:db8:5:1::3"), beside: running, limit: 10, perClientLimit: 3) == nil)
    }
}
