import Domain
import Foundation
import Hummingbird
import NIOCore

/// Writes users as the API shows them (`UserView`) straight into a buffer: the very bytes
/// `PortalJSON.encoder` gives (keys sorted, explicit nulls, whole-second UTC times; tested byte
/// for byte), without Foundation's generic encoder and its snake-case key conversion, which
/// `GET /api/auth/me` paid on every call (issue #16: users without `JSONEncoder` on the hot path).
enum UserViewWriter {
    /// `[user,user,…]`.
    static func writeArray(_ users: [UserView], into buffer: inout ByteBuffer) {
        AuditEventWriter.writeArray(users, into: &buffer, element: write)
    }

    static func write(_ user: UserView, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("{\"created_at\":\"")
        AuditEventWriter.writeTimestamp(user.createdAt, into: &buffer)
        buffer.writeStaticString(user.disabled ? "\",\"disabled\":true,\"email\":" : "\",\"disabled\":false,\"email\":")
        AuditEventWriter.writeString(user.email, into: &buffer)
        buffer.writeStaticString(",\"id\":")
        AuditEventWriter.writeString(user.id, into: &buffer)
        buffer.writeStaticString(user.mfaEnabled ? ",\"mfa_enabled\":true" : ",\"mfa_enabled\":false")
        buffer.writeStaticString(
            user.mustChangePassword ? ",\"must_change_password\":true,\"name\":" : ",\"must_change_password\":false,\"name\":")
        AuditEventWriter.writeString(user.name, into: &buffer)
        buffer.writeStaticString(",\"organization\":")
        writeOptional(user.organization, into: &buffer)
        buffer.writeStaticString(",\"organization_id\":")
        writeOptional(user.organizationID, into: &buffer)
        buffer.writeStaticString(",\"role\":")
        AuditEventWriter.writeString(user.role.rawValue, into: &buffer)
        buffer.writeInteger(UInt8(ascii: "}"))
    }

    private static func writeOptional(_ text: String?, into buffer: inout ByteBuffer) {
        if let text {
            AuditEventWriter.writeString(text, into: &buffer)
        } else {
            buffer.writeStaticString("null")
        }
    }
}

/// A JSON response already written into a buffer (by `UserViewWriter`, `AuditEventWriter`).
struct WrittenJSON: ResponseGenerator, Sendable {
    var buffer: ByteBuffer
    var status: HTTPResponse.Status = .ok

    func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: buffer))
    }

    static func user(_ user: UserView) -> WrittenJSON {
        .written(user, capacity: 256, by: UserViewWriter.write)
    }

    static func users(_ users: [UserView]) -> WrittenJSON {
        .written(users, capacity: users.count * 256, by: UserViewWriter.writeArray)
    }

    /// `value` written by `write` into a buffer of about `capacity` bytes.
    static func written<Value>(
        _ value: Value, capacity: Int, status: HTTPResponse.Status = .ok, by write: (Value, inout ByteBuffer) throws -> Void
    ) rethrows -> WrittenJSON {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(capacity)
        try write(value, &buffer)
        return WrittenJSON(buffer: buffer, status: status)
    }
}
