import Domain
import Foundation
import NIOCore
import Testing

@testable import Net

/// `SessionWriter` (issue #16): sessions as the API shows them (lists, a launch's and a stop's
/// answers), written without the generic encoder, byte for byte what `PortalJSON.encoder` gives.
@Suite struct SessionWriterTests {
    static var sessions: [WorkspaceSession] {
        UserViewWriterTests.texts.enumerated().map { index, text in
            let start = Date(timeIntervalSince1970: 1_767_225_600.987 + Double(index) * 86_399.5)
            return WorkspaceSession(
                id: "ses-\(index)\(text)", userID: "usr-\(text)", userEmail: "\(text)@example.com", workspaceID: "ws-\(text)",
                workspaceName: text, status: SessionStatus.allCases[index % SessionStatus.allCases.count], startedAt: start,
                endedAt: index % 2 == 0 ? nil : start + 61.5, expiresAt: index % 3 == 0 ? nil : start + 3_600.25,
                lastSeenAt: start + 30.75, ipAddress: index % 2 == 0 ? "192.0.2.\(index)" : "2001:db8::\(index)",
                mfaVerified: index % 2 == 1, endReason: index % 4 == 1 ? nil : "reason \(text)", recording: index % 3 == 1)
        }
    }

    @Test func eachSessionIsTheEncodersBytes() throws {
        for session in Self.sessions {
            var buffer = ByteBuffer()
            SessionWriter.write(session, into: &buffer)
            let encoded = try PortalJSON.encoder.encode(session)
            #expect(Array(buffer.readableBytesView) == Array(encoded), "\(String(buffer: buffer))\n\(String(decoding: encoded, as: UTF8.self))")
        }
    }

    @Test func aListIsTheEncodersBytes() throws {
        for sessions in [[], Array(Self.sessions.prefix(1)), Self.sessions] {
            var buffer = ByteBuffer()
            SessionWriter.writeArray(sessions, into: &buffer)
            #expect(Array(buffer.readableBytesView) == Array(try PortalJSON.encoder.encode(sessions)))
        }
    }

    @Test("a launch's and a stop's answers are the encoder's bytes, with and without their optional fields")
    func launchAndStopAreTheEncodersBytes() throws {
        let workspaces = DefaultCatalogue.workspaces(at: Date(timeIntervalSince1970: 1_767_225_600))
        for (index, session) in Self.sessions.enumerated() {
            let workspace = workspaces[index % workspaces.count]
            let launched = WorkspaceRoutes.Launched(
                sessionID: session.id, session: session, workspace: workspace, connectionURL: workspace.url + session.workspaceName,
                launchMode: workspace.launchMode, streamURL: index % 2 == 0 ? nil : workspace.url, expiresAt: session.expiresAt)
            var buffer = ByteBuffer()
            try WorkspaceRoutes.write(launched, into: &buffer)
            #expect(Array(buffer.readableBytesView) == Array(try PortalJSON.encoder.encode(launched)), "\(String(buffer: buffer))")
            var withCatalogue = ByteBuffer()
            try WorkspaceRoutes.write(launched, workspaceJSON: Array(try PortalJSON.encoder.encode(workspace)), into: &withCatalogue)
            #expect(withCatalogue == buffer)

            let stopped = WorkspaceRoutes.Stopped(message: "Session stopped \(session.workspaceName)", session: session)
            var stop = ByteBuffer()
            WorkspaceRoutes.write(stopped, into: &stop)
            #expect(Array(stop.readableBytesView) == Array(try PortalJSON.encoder.encode(stopped)), "\(String(buffer: stop))")
        }
    }
}
