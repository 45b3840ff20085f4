import Domain
import Foundation
import SQLiteNIO

extension SQLiteStore: DemoStore {
    public func insert(_ demo: DemoSession, limit: Int, perAddressLimit: Int) async throws {
        try await write { connection in
            // Inside the write transaction no other creation can slip between the reading and the
            // insert. The active demos are at most the overall limit: reading them is bounded.
            let active = try await connection.rows(
                "SELECT client_address, expires_at FROM demo_sessions WHERE status = 'active'"
            ).map { row in DemoCapacity.Active(clientAddress: try row.string("client_address"), expiresAt: try row.date("expires_at")) }
            if let refusal = DemoCapacity.refusal(of: demo, beside: active, limit: limit, perClientLimit: perAddressLimit) {
                throw refusal
            }
            try await connection.execute(
                """
                INSERT INTO demo_sessions (id, user_id, workspace_id, workspace_type, contact_email, client_address,
                    status, created_at, expires_at, max_expires_at, ended_at, connection_url, network_peer_id,
                    completed_steps, ending_as, claimed_by, claimed_until)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    .text(demo.id), .text(demo.userID), .text(demo.workspaceID), .text(demo.workspaceType),
                    .init(demo.contactEmail), .text(demo.clientAddress), .text(demo.status.rawValue),
                    .init(demo.createdAt), .init(demo.expiresAt), .init(demo.maxExpiresAt), .init(demo.endedAt),
                    .init(demo.connectionURL), .init(demo.networkPeerID),
                    .text(demo.completedSteps.map(\.rawValue).joined(separator: ",")), .init(demo.endingAs?.rawValue),
                    .init(demo.claimedBy), .init(demo.claimedUntil),
                ])
        }
    }

    public func recordProvisioning(of demo: DemoSession) async throws -> DemoSession? {
        try await write {
            try await $0.rows(
                "UPDATE demo_sessions SET connection_url = ?, network_peer_id = ? WHERE id = ? AND status = 'active' RETURNING *",
                [.init(demo.connectionURL), .init(demo.networkPeerID), .text(demo.id)]
            ).first.map(Self.demo)
        }
    }

    public func demo(id: String) async throws -> DemoSession? {
        try await read { try await $0.rows("SELECT * FROM demo_sessions WHERE id = ?", [.text(id)]).first.map(Self.demo) }
    }

    public func demo(userID: String) async throws -> DemoSession? {
        try await read {
            try await $0.rows("SELECT * FROM demo_sessions WHERE user_id = ?", [.text(userID)]).first.map(Self.demo)
        }
    }

    public func activeDemo(contactEmail: String) async throws -> DemoSession? {
        try await read {
            try await $0.rows(
                "SELECT * FROM demo_sessions WHERE contact_email = ? AND status = 'active' ORDER BY created_at DESC, id LIMIT 1",
                [.text(contactEmail)]
            ).first.map(Self.demo)
        }
    }

    public func demos(userID: String?, limit: Int) async throws -> [DemoSession] {
        // A condition only when there is a user: `?1 IS NULL OR user_id = ?1` fits no index.
        try await read {
            if let userID {
                try await $0.rows(
                    "SELECT * FROM demo_sessions WHERE user_id = ? ORDER BY created_at DESC, id" + limitClause(limit), [.text(userID)]
                ).map(Self.demo)
            } else {
                try await $0.rows("SELECT * FROM demo_sessions ORDER BY created_at DESC, id" + limitClause(limit)).map(Self.demo)
            }
        }
    }

    public func unfinishedDemos() async throws -> [DemoSession] {
        try await read {
            try await $0.rows("SELECT * FROM demo_sessions WHERE status IN ('active', 'expiring')").map(Self.demo)
        }
    }

    public func activeDemoCount() async throws -> Int {
        try await read {
            try await $0.rows("SELECT COUNT(*) AS n FROM demo_sessions WHERE status = 'active'").first?.int("n") ?? 0
        }
    }

    public func extend(id: String, from previous: Date, to expiresAt: Date) async throws -> DemoSession? {
        try await write {
            try await $0.rows(
                // Within a millisecond: a date read back need not give the very same double.
                "UPDATE demo_sessions SET expires_at = ? WHERE id = ? AND status = 'active' AND abs(expires_at - ?) < 0.001 RETURNING *",
                [.init(expiresAt), .text(id), .init(previous)]
            ).first.map(Self.demo)
        }
    }

    public func claimCleanup(
        id: String, replica: String, endingAs: DemoSession.Status, at now: Date, leaseUntil: Date
    ) async throws -> DemoSession? {
        try await write {
            try await $0.rows(
                """
                UPDATE demo_sessions SET status = 'expiring', claimed_by = ?1, claimed_until = ?2,
                    ending_as = COALESCE(ending_as, ?3)
                WHERE id = ?4 AND (
                    (status = 'active' AND (?3 = 'ended' OR expires_at <= ?5))
                    OR (status = 'expiring' AND (claimed_until IS NULL OR claimed_until <= ?5)))
                RETURNING *
                """, [.text(replica), .init(leaseUntil), .text(endingAs.rawValue), .text(id), .init(now)]
            ).first.map(Self.demo)
        }
    }

    public func renewClaim(id: String, replica: String, leaseUntil: Date) async throws -> Bool {
        try await write {
            try await $0.changedRows(
                """
                UPDATE demo_sessions SET claimed_until = ? WHERE id = ? AND status = 'expiring' AND claimed_by = ?
                RETURNING 1
                """, [.init(leaseUntil), .text(id), .text(replica)]) == 1
        }
    }

    public func completeStep(_ step: DemoCleanupStep, id: String, replica: String, leaseUntil: Date) async throws -> Bool {
        try await write {
            try await $0.changedRows(
                """
                UPDATE demo_sessions SET claimed_until = ?1,
                    completed_steps = CASE WHEN completed_steps = '' THEN ?2 ELSE completed_steps || ',' || ?2 END
                WHERE id = ?3 AND status = 'expiring' AND claimed_by = ?4 RETURNING 1
                """, [.init(leaseUntil), .text(step.rawValue), .text(id), .text(replica)]) == 1
        }
    }

    public func finish(id: String, replica: String, at now: Date) async throws -> DemoSession? {
        try await write {
            try await $0.rows(
                """
                UPDATE demo_sessions SET status = COALESCE(ending_as, 'expired'), ended_at = ?1, claimed_until = NULL,
                    completed_steps = CASE WHEN completed_steps = '' THEN ?2 ELSE completed_steps || ',' || ?2 END
                WHERE id = ?3 AND status = 'expiring' AND claimed_by = ?4 RETURNING *
                """, [.init(now), .text(DemoCleanupStep.markFinished.rawValue), .text(id), .text(replica)]
            ).first.map(Self.demo)
        }
    }

    static func demo(_ row: SQLiteRow) throws -> DemoSession {
        guard let status = DemoSession.Status(rawValue: try row.string("status")) else {
            throw CorruptRow(column: "status")
        }
        return DemoSession(
            id: try row.string("id"), userID: try row.string("user_id"), workspaceID: try row.string("workspace_id"),
            workspaceType: try row.string("workspace_type"), contactEmail: row.optionalString("contact_email"),
            clientAddress: try row.string("client_address"), status: status, createdAt: try row.date("created_at"),
            expiresAt: try row.date("expires_at"), maxExpiresAt: try row.date("max_expires_at"),
            endedAt: row.optionalDate("ended_at"), connectionURL: row.optionalString("connection_url"),
            networkPeerID: row.optionalString("network_peer_id"),
            completedSteps: try row.string("completed_steps").split(separator: ",").compactMap {
                DemoCleanupStep(rawValue: String($0))
            },
            endingAs: row.optionalString("ending_as").flatMap(DemoSession.Status.init(rawValue:)),
            claimedBy: row.optionalString("claimed_by"), claimedUntil: row.optionalDate("claimed_until"))
    }
}
