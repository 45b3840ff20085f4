import Domain
import Foundation
import HTTPTypes
import Logging
import Net
import ServiceLifecycle
import Services
import TestSupport
import Testing

@testable import App

/// The service `neosc serve` runs beside the server to write the policy refusals that were
/// counted rather than written (PolicyTests covers the counting itself).
@Suite struct FoldedRefusalWriterTests {
    @Test("counted refusals are written once their minute is over, and the rest when the server stops")
    func writesOnItsTimerAndAtShutdown() async throws {
        let clock = ManualClock()
        try await Harness.run(clock: clock.wallClock) { harness, client in
            let admin = try await harness.account(.admin).token
            let user = try await harness.account(.user).token
            let limit: [String: Any] = [
                "id": "pol-slow", "name": "Slow", "kind": "rate_limit", "scope": ["roles": ["user"]],
                "settings": ["requests": 1, "per_seconds": 3_600, "key": "user"],
            ]
            #expect(try await client.send(.post, "/api/policies", token: admin, json: body(limit)).status == .created)
            // One allowed, then three refused: the first refusal written at once, two counted.
            for expected in [200, 429, 429, 429] {
                #expect(try await client.send(.get, "/api/workspaces", token: user).status.code == expected)
            }
            func refusals() async throws -> [AuditEvent] {
                try await harness.store.events(AuditQuery(action: .policyDenied, limit: 20))
            }
            #expect(try await refusals().count == 1)

            let writer = FoldedRefusalWriter(
                policies: harness.portal.policies, interval: .milliseconds(50), logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
            let group = ServiceGroup(services: [writer], logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                // Ticks within the minute write nothing; once it is over, the next tick writes them.
                try await Task.sleep(for: .milliseconds(200))
                #expect(try await refusals().count == 1, "the minute is not over")
                clock.advance(61)
                #expect(try await eventually { try await refusals().count == 2 })
                #expect(try await refusals().first { $0.details["repeated"] != nil }?.details["repeated"] == "2")

                // A new minute: one written at once, one counted, and the server stops within it.
                for _ in 0..<2 { #expect(try await client.send(.get, "/api/workspaces", token: user).status == .tooManyRequests) }
                #expect(try await refusals().count == 3)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
            let written = try await refusals()
            #expect(written.count == 4, "the last counted refusal is written at shutdown: \(written.map(\.details))")
            #expect(written.filter { $0.details["repeated"] != nil }.map { $0.details["repeated"] } == ["1", "2"])
        }
    }
}
