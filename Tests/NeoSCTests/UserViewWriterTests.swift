import Domain
import Foundation
import NIOCore
import Testing

@testable import Net

/// `UserViewWriter` (issue #16): users as `GET /api/auth/me` and `GET /api/users` show them,
/// written without the generic encoder, byte for byte what `PortalJSON.encoder` gives.
@Suite struct UserViewWriterTests {
    static let texts = [
        "", "plain", "quote \" backslash \\ slash /", "line\nbreak\r\ttab\u{08}\u{0C}", "\u{01}\u{1F}\u{7F}",
        "ünïcødé 🔐", "\u{2028}\u{2029}", "<img src=x onerror=alert(1)>", "e\u{301}",
    ]

    static var views: [UserView] {
        texts.enumerated().map { index, text in
            let user = User(
                id: "usr-\(index)\(text)", email: "\(text)@example.com", name: text,
                organizationID: index % 2 == 0 ? nil : "org-\(text)", role: Role.allCases[index % Role.allCases.count],
                passwordHash: "never shown", mfaEnabled: index % 3 == 0, disabled: index % 2 == 0,
                mustChangePassword: index % 4 == 1,
                createdAt: Date(timeIntervalSince1970: 1_767_225_600.987 + Double(index) * 86_399.5), updatedAt: Date())
            let organization = index % 4 == 3 ? Organization(id: "org-\(text)", name: text, domain: nil, createdAt: Date()) : nil
            return UserView(user, organization: organization)
        }
    }

    @Test func eachUserIsTheEncodersBytes() throws {
        for view in Self.views {
            var buffer = ByteBuffer()
            UserViewWriter.write(view, into: &buffer)
            let encoded = try PortalJSON.encoder.encode(view)
            #expect(Array(buffer.readableBytesView) == Array(encoded), "\(String(buffer: buffer))\n\(String(decoding: encoded, as: UTF8.self))")
        }
    }

    @Test func aListIsTheEncodersBytes() throws {
        for views in [[], Array(Self.views.prefix(1)), Self.views] {
            var buffer = ByteBuffer()
            UserViewWriter.writeArray(views, into: &buffer)
            #expect(Array(buffer.readableBytesView) == Array(try PortalJSON.encoder.encode(views)))
        }
    }
}
