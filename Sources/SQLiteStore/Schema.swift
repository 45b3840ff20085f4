import SQLiteNIO

/// The schema as an ordered list of migrations; `PRAGMA user_version` records how many have run.
/// Append new migrations, never edit shipped ones.
enum Schema {
    static let migrations: [[String]] = [
        // 1: the portal's aggregates.
        [
            """
            CREATE TABLE organizations (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                name_key TEXT NOT NULL UNIQUE,
                domain TEXT,
                created_at REAL NOT NULL
            )
            """,
            """
            CREATE TABLE users (
                id TEXT PRIMARY KEY,
                email TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL,
                organization_id TEXT REFERENCES organizations(id),
                role TEXT NOT NULL,
                password_hash TEXT,
                mfa_enabled INTEGER NOT NULL DEFAULT 0,
                disabled INTEGER NOT NULL DEFAULT 0,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL
            )
            """,
            "CREATE INDEX users_organization ON users(organization_id)",
            "CREATE INDEX users_created ON users(created_at)",
            """
            CREATE TABLE workspaces (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                type TEXT NOT NULL,
                description TEXT NOT NULL,
                image_url TEXT,
                status TEXT NOT NULL,
                cpu INTEGER NOT NULL,
                memory INTEGER NOT NULL,
                storage INTEGER NOT NULL,
                url TEXT NOT NULL,
                connection_type TEXT NOT NULL,
                launch_mode TEXT NOT NULL,
                clientless INTEGER NOT NULL,
                requires_netbird INTEGER NOT NULL,
                allowed_roles TEXT NOT NULL,
                max_session_minutes INTEGER NOT NULL,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL
            )
            """,
            """
            CREATE TABLE sessions (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL,
                user_email TEXT NOT NULL,
                workspace_id TEXT NOT NULL,
                workspace_name TEXT NOT NULL,
                status TEXT NOT NULL,
                started_at REAL NOT NULL,
                ended_at REAL,
                expires_at REAL,
                last_seen_at REAL NOT NULL,
                ip_address TEXT NOT NULL,
                mfa_verified INTEGER NOT NULL,
                end_reason TEXT
            )
            """,
            "CREATE INDEX sessions_user_status ON sessions(user_id, status)",
            "CREATE INDEX sessions_status_workspace ON sessions(status, workspace_id)",
            "CREATE INDEX sessions_started ON sessions(started_at)",
            """
            CREATE TABLE tokens (
                digest TEXT PRIMARY KEY,
                user_id TEXT NOT NULL,
                issued_at REAL NOT NULL,
                expires_at REAL NOT NULL,
                revoked_at REAL,
                mfa_verified INTEGER NOT NULL
            )
            """,
            "CREATE INDEX tokens_user ON tokens(user_id)",
            "CREATE INDEX tokens_expires ON tokens(expires_at)",
            """
            CREATE TABLE audit_logs (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL UNIQUE,
                timestamp REAL NOT NULL,
                user_id TEXT,
                user_email TEXT,
                action TEXT NOT NULL,
                resource_type TEXT,
                resource_id TEXT,
                details TEXT NOT NULL,
                ip_address TEXT,
                success INTEGER NOT NULL
            )
            """,
            "CREATE INDEX audit_timestamp ON audit_logs(timestamp)",
            "CREATE INDEX audit_user_timestamp ON audit_logs(user_id, timestamp)",
            "CREATE INDEX audit_action_timestamp ON audit_logs(action, timestamp)",
            """
            CREATE TABLE policies (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                description TEXT NOT NULL,
                category TEXT NOT NULL,
                enabled INTEGER NOT NULL,
                weight INTEGER NOT NULL,
                updated_at REAL NOT NULL
            )
            """,
        ],
        // 2: accounts that sign in through an identity provider (OIDC issuer or Pomerium).
        [
            "ALTER TABLE users ADD COLUMN sso_provider TEXT",
            "ALTER TABLE users ADD COLUMN sso_subject TEXT",
            "CREATE UNIQUE INDEX users_sso ON users(sso_provider, sso_subject) WHERE sso_subject IS NOT NULL",
        ],
        // 3: just-in-time demo sessions; their deadlines are `expires_at` (and the sessions' own).
        [
            """
            CREATE TABLE demo_sessions (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL UNIQUE,
                workspace_id TEXT NOT NULL,
                workspace_type TEXT NOT NULL,
                contact_email TEXT,
                client_address TEXT NOT NULL,
                status TEXT NOT NULL,
                created_at REAL NOT NULL,
                expires_at REAL NOT NULL,
                max_expires_at REAL NOT NULL,
                ended_at REAL,
                connection_url TEXT,
                network_peer_id TEXT,
                completed_steps TEXT NOT NULL DEFAULT '',
                ending_as TEXT,
                claimed_by TEXT,
                claimed_until REAL
            )
            """,
            "CREATE INDEX demo_sessions_status ON demo_sessions(status, expires_at)",
            "CREATE INDEX demo_sessions_address ON demo_sessions(client_address, status)",
            "CREATE INDEX demo_sessions_created ON demo_sessions(created_at)",
            "CREATE INDEX sessions_status_expires ON sessions(status, expires_at)",
        ],
        // 4: a password reset by an administrator makes the account choose a new one.
        [
            "ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0"
        ],
        // 5: redeemed ID-token nonces, so a replay is refused across restarts.
        [
            "CREATE TABLE redeemed_nonces (digest TEXT PRIMARY KEY, expires_at REAL NOT NULL)",
            "CREATE INDEX redeemed_nonces_expiry ON redeemed_nonces(expires_at)",
        ],
        // 6: the one row `/health` rewrites to prove the store still accepts writes; unlocks of
        // throttled accounts, which every server process applies.
        [
            "CREATE TABLE write_probe (id INTEGER PRIMARY KEY CHECK (id = 1), written_at REAL NOT NULL)",
            "CREATE TABLE login_unlocks (id TEXT PRIMARY KEY, email TEXT NOT NULL, at REAL NOT NULL)",
            "CREATE INDEX login_unlocks_at ON login_unlocks(at)",
        ],
        // 7: the audit chain (docs/audit.md): each entry's link and hash, and signed checkpoints.
        // Entries written before this migration are sealed, in `seq` order, when the store opens.
        [
            "ALTER TABLE audit_logs ADD COLUMN prev_hash BLOB",
            "ALTER TABLE audit_logs ADD COLUMN hash BLOB",
            """
            CREATE TABLE audit_checkpoints (
                kind TEXT NOT NULL,
                seq INTEGER NOT NULL,
                hash BLOB NOT NULL,
                signed_at REAL NOT NULL,
                public_key BLOB NOT NULL,
                signature BLOB NOT NULL,
                PRIMARY KEY (kind, seq)
            )
            """,
        ],
        // 8: how far the audit trail was delivered to each forwarding target (syslog, webhook).
        [
            "CREATE TABLE audit_forwarding (sink TEXT PRIMARY KEY, seq INTEGER NOT NULL, updated_at REAL NOT NULL)"
        ],
        // 9: second factors (docs/mfa.md): each account's TOTP enrolment, with the digests of its
        // unused recovery codes (space-separated), and the challenges of two-step sign-ins.
        [
            """
            CREATE TABLE totp_enrollments (
                user_id TEXT PRIMARY KEY REFERENCES users(id),
                secret TEXT NOT NULL,
                recovery_codes TEXT NOT NULL,
                created_at REAL NOT NULL,
                confirmed_at REAL
            )
            """,
            """
            CREATE TABLE mfa_challenges (
                digest TEXT PRIMARY KEY,
                user_id TEXT NOT NULL,
                issued_at REAL NOT NULL,
                expires_at REAL NOT NULL
            )
            """,
            "CREATE INDEX mfa_challenges_expiry ON mfa_challenges(expires_at)",
        ],
        // 10: policies as typed rules (docs/policies.md): a kind, a scope and settings (JSON). The
        // three defaults become rules with the same ids; the two that refuse requests are switched
        // off, since before this they refused nothing and an upgrade must not start to.
        [
            "ALTER TABLE policies ADD COLUMN kind TEXT NOT NULL DEFAULT 'session_recording'",
            "ALTER TABLE policies ADD COLUMN scope TEXT NOT NULL DEFAULT '{}'",
            "ALTER TABLE policies ADD COLUMN settings TEXT NOT NULL DEFAULT '{}'",
            """
            UPDATE policies SET kind = 'mfa_required', enabled = 0,
                scope = '{"organizations":[],"roles":["admin","neosc","user"],"workspaces":[]}',
                settings = '{"applies_to":"launch"}'
            WHERE id = 'pol-mfa-required'
            """,
            """
            UPDATE policies SET kind = 'network_required', enabled = 0, settings = '{"claim":"netbird_peer_id"}'
            WHERE id = 'pol-network-zero-trust'
            """,
            """
            UPDATE policies SET kind = 'session_recording', settings = '{"retention_days":30}'
            WHERE id = 'pol-session-recording'
            """,
            "ALTER TABLE sessions ADD COLUMN recording INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE users ADD COLUMN netbird_peer_id TEXT",
        ],
        // 11: one user's entries of some actions since a time (their dashboard's figures and
        // chart): without it SQLite walked every login of the period by (action, timestamp).
        ["CREATE INDEX audit_user_action_timestamp ON audit_logs(user_id, action, timestamp)"],
        // 12: the names of the provider's claims a token issued at a sign-in through it keeps
        // (a JSON array; `network_required` asks for one).
        ["ALTER TABLE tokens ADD COLUMN claims TEXT NOT NULL DEFAULT '[]'"],
        // 13: the stream NeoSC relays for a workspace's sessions (issue #17); NULL: none.
        ["ALTER TABLE workspaces ADD COLUMN stream_upstream TEXT"],
        // 14: stream tickets between their issue and their use, by digest (issue #17).
        [
            """
            CREATE TABLE stream_tickets (
                digest TEXT PRIMARY KEY,
                session_id TEXT NOT NULL,
                user_id TEXT NOT NULL,
                address TEXT NOT NULL,
                issued_at REAL NOT NULL,
                expires_at REAL NOT NULL
            )
            """,
            "CREATE INDEX stream_tickets_session ON stream_tickets(session_id, issued_at)",
            "CREATE INDEX stream_tickets_expiry ON stream_tickets(expires_at)",
        ],
        // 15: a stop finds the user's newest active session on a workspace through its own index.
        // Without it SQLite chose `sessions_status_workspace` and read every active session on
        // the workspace, everyone's, to find the one user's (issue #16).
        ["CREATE INDEX sessions_user_workspace ON sessions(user_id, workspace_id, status, started_at)"],
        // 16: the active users and those with a second factor, per organisation ('' for users in
        // none), kept by triggers: an administrator's dashboard counted all users on every view
        // (0.45 ms of 10,000, half the view; issue #12). Triggers keep the tally in the writing
        // transaction, whoever writes (another process, a script on the file).
        [
            """
            CREATE TABLE user_tallies (
                organization_id TEXT PRIMARY KEY,
                active INTEGER NOT NULL,
                active_with_mfa INTEGER NOT NULL
            ) WITHOUT ROWID
            """,
            """
            INSERT INTO user_tallies (organization_id, active, active_with_mfa)
            SELECT COALESCE(organization_id, ''), COUNT(*), SUM(mfa_enabled != 0) FROM users WHERE disabled = 0 GROUP BY 1
            """,
            """
            CREATE TRIGGER users_tally_insert AFTER INSERT ON users WHEN NEW.disabled = 0 BEGIN
                INSERT INTO user_tallies (organization_id, active, active_with_mfa)
                VALUES (COALESCE(NEW.organization_id, ''), 1, NEW.mfa_enabled != 0)
                ON CONFLICT (organization_id) DO UPDATE SET
                    active = active + 1, active_with_mfa = active_with_mfa + excluded.active_with_mfa;
            END
            """,
            """
            CREATE TRIGGER users_tally_delete AFTER DELETE ON users WHEN OLD.disabled = 0 BEGIN
                UPDATE user_tallies SET active = active - 1, active_with_mfa = active_with_mfa - (OLD.mfa_enabled != 0)
                WHERE organization_id = COALESCE(OLD.organization_id, '');
                DELETE FROM user_tallies WHERE organization_id = COALESCE(OLD.organization_id, '') AND active = 0;
            END
            """,
            """
            CREATE TRIGGER users_tally_update AFTER UPDATE OF organization_id, disabled, mfa_enabled ON users BEGIN
                UPDATE user_tallies SET active = active - 1, active_with_mfa = active_with_mfa - (OLD.mfa_enabled != 0)
                WHERE OLD.disabled = 0 AND organization_id = COALESCE(OLD.organization_id, '');
                INSERT INTO user_tallies (organization_id, active, active_with_mfa)
                SELECT COALESCE(NEW.organization_id, ''), 1, NEW.mfa_enabled != 0 WHERE NEW.disabled = 0
                ON CONFLICT (organization_id) DO UPDATE SET
                    active = active + 1, active_with_mfa = active_with_mfa + excluded.active_with_mfa;
                DELETE FROM user_tallies WHERE organization_id = COALESCE(OLD.organization_id, '') AND active = 0;
            END
            """,
        ],
        // 17: accounts their registrants made, whose address nothing proved (`User.selfRegistered`).
        // Those made before are found by their `register` entries still in the audit trail, linked
        // to a provider since or not: one linked under the old rule kept its registrant's password,
        // which its next sign-in through the provider now takes away (`AccountLinking`).
        [
            "ALTER TABLE users ADD COLUMN self_registered INTEGER NOT NULL DEFAULT 0",
            """
            UPDATE users SET self_registered = 1
                WHERE id IN (SELECT resource_id FROM audit_logs WHERE action = 'register' AND success = 1)
            """,
        ],
        // 18: demo visitors' accounts are not the organisation's people: every demo leaves one, none
        // can have a second factor, and anyone may start demos, so counted they pushed the MFA
        // coverage and the security score towards nothing (a probe). The tally leaves them out.
        [
            "DROP TRIGGER users_tally_insert", "DROP TRIGGER users_tally_delete", "DROP TRIGGER users_tally_update",
            "DELETE FROM user_tallies",
            """
            INSERT INTO user_tallies (organization_id, active, active_with_mfa)
            SELECT COALESCE(organization_id, ''), COUNT(*), SUM(mfa_enabled != 0) FROM users
            WHERE disabled = 0 AND role != 'demo-user' GROUP BY 1
            """,
            """
            CREATE TRIGGER users_tally_insert AFTER INSERT ON users WHEN NEW.disabled = 0 AND NEW.role != 'demo-user' BEGIN
                INSERT INTO user_tallies (organization_id, active, active_with_mfa)
                VALUES (COALESCE(NEW.organization_id, ''), 1, NEW.mfa_enabled != 0)
                ON CONFLICT (organization_id) DO UPDATE SET
                    active = active + 1, active_with_mfa = active_with_mfa + excluded.active_with_mfa;
            END
            """,
            """
            CREATE TRIGGER users_tally_delete AFTER DELETE ON users WHEN OLD.disabled = 0 AND OLD.role != 'demo-user' BEGIN
                UPDATE user_tallies SET active = active - 1, active_with_mfa = active_with_mfa - (OLD.mfa_enabled != 0)
                WHERE organization_id = COALESCE(OLD.organization_id, '');
                DELETE FROM user_tallies WHERE organization_id = COALESCE(OLD.organization_id, '') AND active = 0;
            END
            """,
            """
            CREATE TRIGGER users_tally_update AFTER UPDATE OF organization_id, disabled, mfa_enabled, role ON users BEGIN
                UPDATE user_tallies SET active = active - 1, active_with_mfa = active_with_mfa - (OLD.mfa_enabled != 0)
                WHERE OLD.disabled = 0 AND OLD.role != 'demo-user' AND organization_id = COALESCE(OLD.organization_id, '');
                INSERT INTO user_tallies (organization_id, active, active_with_mfa)
                SELECT COALESCE(NEW.organization_id, ''), 1, NEW.mfa_enabled != 0 WHERE NEW.disabled = 0 AND NEW.role != 'demo-user'
                ON CONFLICT (organization_id) DO UPDATE SET
                    active = active + 1, active_with_mfa = active_with_mfa + excluded.active_with_mfa;
                DELETE FROM user_tallies WHERE organization_id = COALESCE(OLD.organization_id, '') AND active = 0;
            END
            """,
        ],
        // 19: accounts provisioned for an identity whose provider had not verified its address
        // (`User.addressUnverified`). Those made before are not known: none is marked.
        ["ALTER TABLE users ADD COLUMN address_unverified INTEGER NOT NULL DEFAULT 0"],
    ]

    /// Runs the migrations this file has not seen yet, each in its own transaction.
    static func migrate(_ connection: SQLiteConnection) async throws {
        let current = try await connection.rows("PRAGMA user_version").first?.int("user_version") ?? 0
        guard current <= migrations.count else {
            throw SchemaTooNew(found: current, known: migrations.count)
        }
        for (index, statements) in migrations.enumerated().dropFirst(current) {
            try await connection.executeEvenIfCancelled("BEGIN IMMEDIATE")
            do {
                for statement in statements { try await connection.execute(statement) }
                if index + 1 == auditChainVersion {
                    try await SQLiteStore.sealEntriesFromBeforeTheChain(on: connection)
                }
                try await connection.execute("PRAGMA user_version = \(index + 1)")
                try await connection.executeEvenIfCancelled("COMMIT")
            } catch {
                try? await connection.executeEvenIfCancelled("ROLLBACK")
                throw error
            }
        }
    }

    /// The first schema version with the audit chain: its migration seals the entries before it.
    static let auditChainVersion = 7
}

/// The data file was written by a newer NeoSC; refuse to run rather than misread it.
struct SchemaTooNew: Error, CustomStringConvertible {
    var found: Int
    var known: Int
    var description: String {
        "the data file has schema version \(found) but this NeoSC knows only up to \(known); upgrade NeoSC"
    }
}
