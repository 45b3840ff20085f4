import Domain
import Foundation
import NIOCore

/// Writes workspace sessions as the API shows them straight into a buffer: the very bytes
/// `PortalJSON.encoder` gives (keys sorted, absent optionals left out, whole-second UTC times;
/// tested byte for byte), without Foundation's generic encoder, which every launch, stop and
/// session list paid (issue #16: session lists without `JSONEncoder` on the hot path).
enum SessionWriter {
    /// `[session,session,…]`.
    static func writeArray(_ sessions: [WorkspaceSession], into buffer: inout ByteBuffer) {
        AuditEventWriter.writeArray(sessions, into: &buffer, element: write)
    }

    static func write(_ session: WorkspaceSession, into buffer: inout ByteBuffer) {
        // Sorted keys: `end_reason` before `ended_at` ("_" sorts before "e").
        buffer.writeInteger(UInt8(ascii: "{"))
        if let reason = session.endReason {
            buffer.writeStaticString("\"end_reason\":")
            AuditEventWriter.writeString(reason, into: &buffer)
            buffer.writeInteger(UInt8(ascii: ","))
        }
        if let ended = session.endedAt {
            writeTime("\"ended_at\":\"", ended, into: &buffer)
            buffer.writeInteger(UInt8(ascii: ","))
        }
        if let expires = session.expiresAt {
            writeTime("\"expires_at\":\"", expires, into: &buffer)
            buffer.writeInteger(UInt8(ascii: ","))
        }
        buffer.writeStaticString("\"id\":")
        AuditEventWriter.writeString(session.id, into: &buffer)
        AuditEventWriter.writeField(",\"ip_address\":", session.ipAddress, into: &buffer)
        writeTime(",\"last_seen_at\":\"", session.lastSeenAt, into: &buffer)
        buffer.writeStaticString(session.mfaVerified ? ",\"mfa_verified\":true" : ",\"mfa_verified\":false")
        buffer.writeStaticString(session.recording ? ",\"recording\":true" : ",\"recording\":false")
        writeTime(",\"started_at\":\"", session.startedAt, into: &buffer)
        AuditEventWriter.writeField(",\"status\":", session.status.rawValue, into: &buffer)
        AuditEventWriter.writeField(",\"user_email\":", session.userEmail, into: &buffer)
        AuditEventWriter.writeField(",\"user_id\":", session.userID, into: &buffer)
        AuditEventWriter.writeField(",\"workspace_id\":", session.workspaceID, into: &buffer)
        AuditEventWriter.writeField(",\"workspace_name\":", session.workspaceName, into: &buffer)
        buffer.writeInteger(UInt8(ascii: "}"))
    }

    /// `prefix` (the key and the opening quote), the time, and the closing quote.
    private static func writeTime(_ prefix: StaticString, _ date: Date, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(prefix)
        AuditEventWriter.writeTimestamp(date, into: &buffer)
        buffer.writeInteger(UInt8(ascii: "\""))
    }
}

extension WrittenJSON {
    static func session(_ session: WorkspaceSession) -> WrittenJSON {
        .written(session, capacity: 512, by: SessionWriter.write)
    }

    static func sessions(_ sessions: [WorkspaceSession]) -> WrittenJSON {
        .written(sessions, capacity: sessions.count * 512, by: SessionWriter.writeArray)
    }
}
