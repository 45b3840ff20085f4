import Actors
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOPosix
import SQLiteNIO
import Services
import Testing

@testable import App
@testable import Net
@testable import SQLiteStore

/// `GET /api/audit-logs/export` and the list's `before` cursor (issue #14: out of NeoSC).
@Suite("Audit export")
struct AuditExportTests {
    /// RFC 4180 records: quoted fields may hold commas, quotes (doubled) and line breaks.
    static func csvRecords(_ text: String) -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field = ""
        var quoted = false
        var characters = Array(text)[...]
        while let character = characters.popFirst() {
            if quoted {
                if character == "\"" {
                    if characters.first == "\"" {
                        field.append("\"")
                        characters.removeFirst()
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(character)
                }
            } else if character == "\"" {
                quoted = true
            } else if character == "," {
                record.append(field)
                field = ""
            } else if character == "\r\n" || character == "\n" {
                record.append(field)
                records.append(record)
                record = []
                field = ""
            } else {
                field.append(character)
            }
        }
        return records
    }

    /// Entries of two people, one with values a spreadsheet would run and CSV must quote.
    static func seed(_ harness: Harness, admin: User, member: User) async throws {
        let now = Date()
        for index in 0..<30 {
            try await harness.store.append(
                AuditEvent(
                    timestamp: now - Double(100 - index), userID: index % 3 == 0 ? member.id : admin.id,
                    userEmail: index % 3 == 0 ? member.email : admin.email, action: index % 2 == 0 ? .login : .launchWorkspace,
                    resourceType: index % 2 == 0 ? nil : "workspace", resourceID: index % 2 == 0 ? nil : "ws-\(index)",
                    details: ["note": "a, \"quoted\"\nvalue", "formula": "=HYPERLINK(\"https://evil.example\")"],
                    ipAddress: "192.0.2.\(index)", success: index % 7 != 0))
        }
    }

    @Test("CSV and JSON lines hold exactly the list's entries for the same filters, newest first; strings stay text")
    func exportMatchesTheList() async throws {
        try await Harness.run { harness, client in
            let (admin, adminToken) = try await harness.account(.admin)
            let (member, memberToken) = try await harness.account(.neosc)
            try await Self.seed(harness, admin: admin, member: member)
            let filter = "action=launch_workspace&success=true"
            let listed = try await client.send(.get, "/api/audit-logs?\(filter)&limit=500", token: adminToken)
                .decoded([AuditEntryBody].self)
            #expect(listed.count > 5)

            let csv = try await client.send(.get, "/api/audit-logs/export?format=csv&\(filter)", token: adminToken)
            #expect(csv.status == .ok)
            #expect(csv.headers[.contentType] == "text/csv; charset=utf-8")
            #expect(csv.headers[.contentDisposition]?.hasPrefix("attachment; filename=\"neosc-audit-") == true)
            let records = Self.csvRecords(csv.text)
            #expect(records.first == AuditExportFormat.csvColumns)
            let rows = records.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(AuditExportFormat.csvColumns, $0)) }
            #expect(rows.map { $0["id"] } == listed.map(\.id), "the same entries in the same order")
            let first = try #require(rows.first)
            #expect(first["resource"] == "workspace:\(listed[0].resourceID ?? "")")
            let details = try JSONSerialization.jsonObject(with: Data(first["details"]!.utf8)) as? [String: String]
            #expect(details?["note"] == "a, \"quoted\"\nvalue", "commas, quotes and line breaks survive")
            #expect(!csv.text.contains(",=HYPERLINK"), "no field starts a formula")

            let jsonl = try await client.send(.get, "/api/audit-logs/export?format=jsonl&\(filter)", token: adminToken)
            #expect(jsonl.status == .ok)
            #expect(jsonl.headers[.contentType] == "application/x-ndjson")
            let lines = jsonl.text.split(separator: "\n")
            let entries = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] ?? [:] }
            #expect(entries.map { $0["id"] as? String } == listed.map(\.id))
            #expect(entries.first?["resource"] as? String == "workspace:\(listed[0].resourceID ?? "")")

            // Someone else's export holds their own entries, whatever user_id they ask for.
            let own = try await client.send(.get, "/api/audit-logs/export?format=jsonl&user_id=\(admin.id)", token: memberToken)
            let ownIDs = own.text.split(separator: "\n").compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["user_id"] as? String
            }
            #expect(!ownIDs.isEmpty && ownIDs.allSatisfy { $0 == member.id })

            // A HEAD gets the download's headers, exports nothing and is not audited.
            let head = try await client.send(.head, "/api/audit-logs/export?format=jsonl", token: adminToken)
            #expect(head.status == .ok)
            #expect(head.headers[.contentType] == "application/x-ndjson")
            #expect(head.text.isEmpty)
            #expect(head.headers[.contentLength] == nil, "a streamed download's length is not known, and not 0")

            let exported = try await harness.store.events(AuditQuery(action: .auditExported))
            #expect(exported.count == 3, "each export audited, not the HEAD")
            #expect(exported.last?.details["format"] == "csv" && exported.last?.details["action"] == "launch_workspace")
        }
    }

    @Test("bad formats and filters are 422 before anything is sent; the export needs a sign-in")
    func refusals() async throws {
        try await Harness.run { harness, client in
            let token = try await harness.account(.admin).token
            for query in ["", "format=xml", "format=csv&since=yesterday", "format=csv&success=maybe"] {
                let refused = try await client.send(.get, "/api/audit-logs/export?\(query)", token: token)
                #expect(refused.status == .unprocessableContent, "\(query)")
                #expect(refused.detail != nil)
            }
            #expect(try await client.send(.get, "/api/audit-logs/export?format=csv").status == .unauthorized)
        }
    }

    /// Anyone may put text into an entry: a failed sign-in's claimed e-mail, unsigned in. What a
    /// reader cannot see, or what reorders what follows (a right-to-left override, ESC, a line
    /// break), is written out, so that an entry can neither hide itself nor forge a line in a SIEM
    /// or a terminal.
    @Test("hidden and reordering characters an anonymous caller sends are written out in the entry, not kept")
    func hiddenCharactersAreWrittenOut() async throws {
        try await Harness.run { harness, client in
            let claimed = "admin@example.com\u{202E}\u{1B}[31m\nx\u{2028}y\u{AD}z"
            let refused = try await client.send(.post, "/api/auth/login", json: body(["email": claimed, "password": "wrong password"]))
            #expect(refused.status == .unauthorized)
            let entry = try #require(try await harness.store.events(AuditQuery(action: .loginFailed)).first)
            let written = #"admin@example.com\u{202E}\u{1B}[31m\u{A}x\u{2028}y\u{AD}z"#
            let email = entry.userEmail ?? ""
            #expect(email == written, "\(email)")
            // A backslash is written out too: a text that spells an escape is not taken for one.
            #expect(#"a\u{202E}b"#.escapingHidden == #"a\u{5C}u{202E}b"#)
            // Text a reader sees, non-ASCII included, is kept as it is.
            #expect("Zoë Ångström 😀".escapingHidden == "Zoë Ångström 😀")
            let report = try await harness.portal.auditIntegrity.verify()
            #expect(Self.isIntact(report), "the chain holds what it hashed: \(report)")
        }
    }

    static func isIntact(_ report: AuditIntegrity.Report) -> Bool {
        if case .intact = report { return true }
        return false
    }

    /// What a filter names is written into the export's own entry, and forwarded: any account
    /// could otherwise put line breaks and right-to-left overrides into the trail. A filter
    /// names an action, or an id, as they are spelt, or it is a 422 and nothing is written.
    @Test("filters that could not name an action or an id are 422, for anyone, before an entry is written")
    func filtersNameWhatTheyCanName() async throws {
        try await Harness.run { harness, client in
            let admin = try await harness.account(.admin).token
            let user = try await harness.account(.user).token
            let recorded = try await harness.store.events(AuditQuery(limit: 1_000)).count
            for token in [admin, user] {
                for query in [
                    "action=login%0D%0A2026-12-07+admin@example.com+password_reset+OK%E2%80%AE", "action=%0d%0a", "action=Login",
                    "action=login%00", "before=aud-1%0Ax", "before=%E2%80%AE", "user_id=usr%20x",
                ] {
                    for path in ["/api/audit-logs?", "/api/audit-logs/export?format=jsonl&"] {
                        let refused = try await client.send(.get, path + query, token: token)
                        #expect(refused.status == .unprocessableContent, "\(path)\(query): \(refused.text)")
                    }
                }
            }
            #expect(try await harness.store.events(AuditQuery(limit: 1_000)).count == recorded, "no export was audited")
            let named = try await client.send(.get, "/api/audit-logs/export?format=jsonl&action=launch_workspace&before=aud-x_1", token: user)
            #expect(named.status == .ok)
        }
    }

    @Test("the list pages with before=<the last id>: every entry once")
    func listPages() async throws {
        try await Harness.run { harness, client in
            let (admin, token) = try await harness.account(.admin)
            let (member, _) = try await harness.account(.neosc)
            try await Self.seed(harness, admin: admin, member: member)
            let all = try await client.send(.get, "/api/audit-logs?limit=500", token: token).decoded([AuditEntryBody].self)
            var paged: [AuditEntryBody] = []
            var cursor = ""
            while true {
                let page = try await client.send(.get, "/api/audit-logs?limit=7\(cursor)", token: token).decoded([AuditEntryBody].self)
                paged += page
                guard page.count == 7, let last = page.last else { break }
                cursor = "&before=\(last.id)"
            }
            #expect(paged.map(\.id) == all.map(\.id))
        }
    }

    @Test("the list is byte for byte AuditEventWriter's list of the store's entries, read afresh or kept; a new entry shows at once")
    func listKeepsSealedEntries() async throws {
        try await Harness.run { harness, client in
            let (admin, token) = try await harness.account(.admin)
            let (member, _) = try await harness.account(.neosc)
            try await Self.seed(harness, admin: admin, member: member)
            func expected(_ query: AuditQuery) async throws -> String {
                var buffer = ByteBuffer()
                AuditEventWriter.writeArray(try await harness.store.events(query), into: &buffer)
                return String(buffer: buffer)
            }
            let middle = try await harness.store.events(AuditQuery(limit: 10))[9].id
            let queries: [(String, AuditQuery)] = [
                ("limit=500", AuditQuery(limit: 500)), ("limit=5", AuditQuery(limit: 5)),
                ("action=launch_workspace&success=true", AuditQuery(action: .launchWorkspace, success: true)),
                ("before=\(middle)&limit=20", AuditQuery(before: middle, limit: 20)),
            ]
            for round in 1...2 {
                for (parameters, query) in queries {
                    let listed = try await client.send(.get, "/api/audit-logs?\(parameters)", token: token)
                    #expect(listed.status == .ok)
                    #expect(listed.text == (try await expected(query)), "round \(round): \(parameters)")
                }
            }
            // A change after the pages were kept: its entry leads the next list.
            let newest = try await harness.store.append(
                AuditEvent(
                    timestamp: Date(), userID: member.id, userEmail: member.email, action: .logout, ipAddress: nil, success: true))
            let listed = try await client.send(.get, "/api/audit-logs?limit=5", token: token)
            #expect(listed.text == (try await expected(AuditQuery(limit: 5))))
            #expect(try listed.decoded([AuditEntryBody].self).first?.id == newest.id)
        }
    }

    @Test("the list keeps only sealed entries' bytes: an entry awaiting its seal is written afresh each time")
    func onlySealedEntriesAreKept() {
        let sealed = AuditEvent(
            id: "aud-sealed", timestamp: Date(timeIntervalSince1970: 1_767_225_600), userID: "usr-1", userEmail: "a@example.com",
            action: .login, ipAddress: nil, success: true,
            seal: AuditSeal(seq: 7, prevHash: Array(repeating: 1, count: 32), hash: Array(repeating: 2, count: 32)))
        let staged = AuditEvent(
            id: "aud-staged", timestamp: Date(timeIntervalSince1970: 1_767_225_601), userID: "usr-1", userEmail: "a@example.com",
            action: .logout, ipAddress: nil, success: true)
        let encoded = AuditListWriter.encode([sealed, staged])
        for event in [sealed, staged] {
            var buffer = ByteBuffer()
            AuditEventWriter.write(event, into: &buffer)
            #expect(encoded.all[event.id] == Array(buffer.readableBytesView), "\(event.id)")
        }
        #expect(Array(encoded.sealed.keys) == ["aud-sealed"])
    }

    @Test("the list keeps sealed entries' bytes and serves them again; an entry awaiting its seal is read afresh each time")
    func keptAndAfresh() async throws {
        try await Self.withStore { store, path in
            let raw = try await SQLiteFile.connection(path)
            try await closing([raw.close]) {
                var appended: [AuditEvent] = []
                for index in 0..<4 {
                    appended.append(
                        try await store.append(
                            AuditEvent(
                                timestamp: Date(timeIntervalSince1970: 1_767_225_600 + Double(index)), userID: "usr-\(index)",
                                userEmail: "first\(index)@example.com", action: .login, ipAddress: nil, success: true)))
                }
                // The newest as a MongoDB transaction stages one: not sealed yet.
                try await raw.execute("UPDATE audit_logs SET hash = NULL, prev_hash = NULL WHERE id = ?", [.text(appended[3].id)])
                let kept = UnchangingValues<String, [UInt8]>(capacity: 100)
                let newest = NewestPages()
                let writer = AuditListWriter(store: store, kept: kept, newest: newest)
                func stored() async throws -> String {
                    var buffer = ByteBuffer()
                    AuditEventWriter.writeArray(try await store.events(AuditQuery()), into: &buffer)
                    return String(buffer: buffer)
                }
                #expect(String(buffer: try await writer.list(AuditQuery())) == (try await stored()))
                #expect(await kept.count == 3, "the three sealed entries kept, not the staged one")
                #expect(
                    newest.page(for: AuditQuery(), ids: appended.reversed().map(\.id), confirming: nil) == nil,
                    "a page with a staged entry is not kept")

                // Rows changed behind NeoSC's back: the staged entry is read afresh, a sealed one is
                // served as NeoSC wrote it (docs/audit.md: verification reads the store).
                for (index, email) in [(3, "staged@example.com"), (1, "edited@example.com")] {
                    try await raw.execute("UPDATE audit_logs SET user_email = ? WHERE id = ?", [.text(email), .text(appended[index].id)])
                }
                let again = String(buffer: try await writer.list(AuditQuery()))
                #expect(again.contains("staged@example.com"), "the entry awaiting its seal shows its row as it is now")
                #expect(again.contains("first1@example.com") && !again.contains("edited@example.com"), "a kept entry is served from memory")
            }
        }
    }

    /// A migrated SQLite store in a directory of its own, for `body` (with the file's path): closed
    /// and removed after, whether `body` threw or not.
    static func withStore(_ body: (SQLiteStore, String) async throws -> Void) async throws {
        try await SQLiteFile.withStore(body)
    }

    @Test("a newest page of sealed entries is kept whole per selection, and written anew once its ids change")
    func newestPageKept() async throws {
        try await Self.withStore { store, _ in
            func append(_ index: Int, user: String) async throws -> AuditEvent {
                try await store.append(
                    AuditEvent(
                        timestamp: Date(timeIntervalSince1970: 1_767_225_600 + Double(index)), userID: user,
                        userEmail: "\(user)@example.com", action: .login, ipAddress: nil, success: true))
            }
            var appended: [AuditEvent] = []
            for index in 0..<3 { appended.append(try await append(index, user: "usr-\(index % 2)")) }
            let newest = NewestPages(capacity: 2)
            let writer = AuditListWriter(store: store, kept: UnchangingValues(capacity: 100), newest: newest)
            func stored(_ query: AuditQuery) async throws -> String {
                var buffer = ByteBuffer()
                AuditEventWriter.writeArray(try await store.events(query), into: &buffer)
                return String(buffer: buffer)
            }
            let everyone = AuditQuery(limit: 2)
            let one = AuditQuery(userID: "usr-0")
            for query in [everyone, one] {
                #expect(String(buffer: try await writer.list(query)) == (try await stored(query)))
            }
            #expect(newest.page(for: everyone, ids: [appended[2].id, appended[1].id], confirming: nil) != nil)
            #expect(newest.page(for: one, ids: [appended[2].id, appended[0].id], confirming: nil) != nil)
            #expect(newest.page(for: everyone, ids: [appended[1].id, appended[0].id], confirming: nil) == nil, "other ids: not that page")

            appended.append(try await append(3, user: "usr-0"))
            for query in [everyone, one] {
                #expect(String(buffer: try await writer.list(query)) == (try await stored(query)), "the new entry listed at once")
            }
            #expect(newest.page(for: everyone, ids: [appended[3].id, appended[2].id], confirming: nil) != nil)
            let other = AuditQuery(userID: "usr-1")
            _ = try await writer.list(other)
            let stillKept = [
                newest.page(for: everyone, ids: [appended[3].id, appended[2].id], confirming: nil),
                newest.page(for: one, ids: [appended[3].id, appended[2].id, appended[0].id], confirming: nil),
            ].compactMap { $0 }
            #expect(stillKept.count == 1, "past the capacity, one page made room for the new one, not all")
            #expect(newest.page(for: other, ids: [appended[1].id], confirming: nil) != nil)

            let sizes = (one: try await writer.list(one).readableBytes, everyone: try await writer.list(everyone).readableBytes)
            let small = NewestPages(budget: sizes.one + sizes.everyone - 1)
            let bounded = AuditListWriter(store: store, kept: UnchangingValues(capacity: 100), newest: small)
            _ = try await bounded.list(one)
            #expect(small.page(for: one, ids: [appended[3].id, appended[2].id, appended[0].id], confirming: nil) != nil)
            _ = try await bounded.list(everyone)
            #expect(
                small.page(for: one, ids: [appended[3].id, appended[2].id, appended[0].id], confirming: nil) == nil, "past the bytes, all let go")
        }
    }

    @Test("the trail's version moves with every append and every removal, and stays while nothing changes")
    func trailVersionMoves() async throws {
        try await Self.withStore { store, path in
            #expect(try await store.trailVersion() == nil, "an empty trail answers nothing again")
            func append(_ index: Int) async throws -> AuditEvent {
                try await store.append(
                    AuditEvent(
                        timestamp: Date(timeIntervalSince1970: 1_767_225_600 + Double(index)), userID: "usr-v", userEmail: nil,
                        action: .login, ipAddress: nil, success: true))
            }
            var appended: [AuditEvent] = []
            for index in 0..<3 { appended.append(try await append(index)) }
            let three = try #require(try await store.trailVersion())
            #expect(three.newest == 3 && three.oldest == 1 && three.newestHash == appended[2].seal?.hash)
            #expect(try await store.trailVersion() == three, "nothing changed")
            let anchor = AuditCheckpoint(
                kind: .retention, seq: 1, hash: try #require(appended[0].seal?.hash), signedAt: Date(), publicKey: [], signature: [])
            #expect(try await store.removeEntries(through: anchor) == 1)
            let retained = try #require(try await store.trailVersion())
            #expect(retained.newest == 3 && retained.oldest == 2, "retention moves the oldest")
            // The newest row deleted by hand: the next entry takes its seq, but not its hash.
            let raw = try await SQLiteFile.connection(path)
            try await closing([raw.close]) {
                try await raw.execute("DELETE FROM audit_logs WHERE seq = 3")
            }
            let replaced = try await append(3)
            let after = try #require(try await store.trailVersion())
            #expect(replaced.seal?.seq == 3 && after.newest == 3 && after.oldest == 2)
            #expect(after != retained, "the same seq, another entry: another version")
        }
    }

    @Test("the trail's version is read once while this process changes nothing; its own change is read at once")
    func trailVersionKept() async throws {
        try await Self.withStore { store, path in
            func append(_ index: Int) async throws -> AuditEvent {
                try await store.append(
                    AuditEvent(
                        timestamp: Date(timeIntervalSince1970: 1_767_225_600 + Double(index)), userID: "usr-k", userEmail: nil,
                        action: .login, ipAddress: nil, success: true))
            }
            _ = try await append(0)
            let second = try await append(1)
            let read = ContinuousClock.now
            let two = try #require(try await store.trailVersion())
            #expect(two.newest == 2 && two.newestHash == second.seal?.hash)
            // Another process removes the newest entry: not read again within the bound.
            let raw = try await SQLiteFile.connection(path)
            try await closing([raw.close]) {
                try await raw.execute("DELETE FROM audit_logs WHERE seq = 2")
            }
            let kept = try await store.trailVersion()
            // (Past the bound, as on a loaded machine running the suite, it is read again.)
            if ContinuousClock.now - read < TrailVersionCache.outsideWritesSeenWithin {
                #expect(kept == two, "kept: nothing of this process's changed")
            }
            // This process's change ends a transaction: read again, before the change returns.
            let third = try await append(2)
            let after = try #require(try await store.trailVersion())
            #expect(after.newest == 2 && after.newestHash == third.seal?.hash && after != two)
            // Inside a transaction its own entry counts: read afresh, not the version kept. Once
            // the transaction is rolled back, the version outside is the one before it.
            struct Undone: Error {}
            await #expect(throws: Undone.self) {
                try await store.atomically(
                    { () async throws -> Void in
                        let fourth = try await append(3)
                        let inside = try await store.trailVersion()
                        #expect(inside?.newest == 3 && inside?.newestHash == fourth.seal?.hash)
                        throw Undone()
                    }, published: { _ in })
            }
            #expect(try await store.trailVersion() == after)
        }
    }

    @Test("a version read is answered again until a transaction ends or the bound passes; a read across a transaction's end is not kept")
    func trailVersionCache() {
        let cache = TrailVersionCache(lifetime: .seconds(1))
        let start = ContinuousClock.now
        let version = AuditTrailVersion(newest: 3, oldest: 1)
        guard case .read(let ticket) = cache.lookup(now: start) else {
            Issue.record("nothing read yet: to be read")
            return
        }
        cache.remember(version, ticket: ticket)
        #expect(cache.lookup(now: start + .milliseconds(999)) == .known(version))
        guard case .read(let late) = cache.lookup(now: start + .seconds(1)) else {
            Issue.record("a version read a second ago: read again (another process may have written)")
            return
        }
        cache.remember(nil, ticket: late)
        #expect(cache.lookup(now: start + .milliseconds(1500)) == .known(nil), "an empty trail is known too")
        cache.transactionEnded()
        guard case .read(let straddling) = cache.lookup(now: start + .milliseconds(1500)) else {
            Issue.record("a transaction ended: read again")
            return
        }
        cache.transactionEnded()
        cache.remember(version, ticket: straddling)
        if case .known = cache.lookup(now: start + .milliseconds(1500)) {
            Issue.record("read across a transaction's end (before or after its commit?): not kept")
        }
        // Two reads in one generation: the one begun later is kept, whichever ends last (a
        // version once left must not come back).
        let both = TrailVersionCache(lifetime: .seconds(1))
        guard case .read(let earlier) = both.lookup(now: start), case .read(let later) = both.lookup(now: start + .milliseconds(10))
        else {
            Issue.record("nothing kept yet: both read")
            return
        }
        let newer = AuditTrailVersion(newest: 4, oldest: 1)
        both.remember(newer, ticket: later)
        both.remember(version, ticket: earlier)
        #expect(both.lookup(now: start + .milliseconds(20)) == .known(newer))
    }

    @Test("while the trail stands still a newest page is answered again without reading its ids; any append moves it")
    func newestPageByVersion() async throws {
        try await Self.withStore { store, path in
            let raw = try await SQLiteFile.connection(path)
            try await closing([raw.close]) {
                var appended: [AuditEvent] = []
                for index in 0..<3 {
                    appended.append(
                        try await store.append(
                            AuditEvent(
                                timestamp: Date(timeIntervalSince1970: 1_767_225_600 + Double(index)), userID: "usr-p",
                                userEmail: "p\(index)@example.com", action: .login, ipAddress: nil, success: true)))
                }
                let newest = NewestPages()
                let writer = AuditListWriter(store: store, kept: UnchangingValues(capacity: 100), newest: newest)
                let first = String(buffer: try await writer.list(AuditQuery()))
                let version = try #require(try await store.trailVersion())
                #expect(newest.page(for: AuditQuery(), at: version) != nil)
                #expect(newest.page(for: AuditQuery(), at: AuditTrailVersion(newest: 4, oldest: 1)) == nil, "another version: not that page")
                // A row removed behind NeoSC's back from the middle moves neither end: the page is
                // the one kept, so the ids were not read (verification is what reads the rows).
                try await raw.execute("DELETE FROM audit_logs WHERE id = ?", [.text(appended[1].id)])
                #expect(String(buffer: try await writer.list(AuditQuery())) == first)
                // An append moves the version: the page is read again, and is what the store holds.
                _ = try await store.append(
                    AuditEvent(
                        timestamp: Date(timeIntervalSince1970: 1_767_225_700), userID: "usr-p", userEmail: "p3@example.com",
                        action: .login, ipAddress: nil, success: true))
                var stored = ByteBuffer()
                AuditEventWriter.writeArray(try await store.events(AuditQuery()), into: &stored)
                let again = String(buffer: try await writer.list(AuditQuery()))
                #expect(again == String(buffer: stored))
                #expect(again.contains("p3@example.com") && !again.contains("p1@example.com"))
            }
        }
    }

    @Test("AuditEventWriter gives the JSON values the generic encoder gives, entry by entry and as a list")
    func writerMatchesTheEncoder() throws {
        let texts = [
            "", "plain", "quote \" backslash \\ slash /", "line\nbreak\r\ttab\u{08}\u{0C}", "\u{01}\u{1F}\u{7F}",
            "ünïcødé 🔐", "\u{2028}\u{2029}", "<img src=x onerror=alert(1)>",
        ]
        var events: [AuditEvent] = []
        for (index, text) in texts.enumerated() {
            events.append(
                AuditEvent(
                    id: "aud-\(index)", timestamp: Date(timeIntervalSince1970: 1_767_225_600.987 + Double(index) * 86_399.5),
                    userID: index % 2 == 0 ? text : nil, userEmail: text, action: AuditAction(text),
                    resourceType: index % 3 == 0 ? nil : "type\(text)", resourceID: index % 3 == 1 ? nil : text,
                    details: index == 4 ? [:] : [text: text, "k": "v"], ipAddress: index % 2 == 1 ? text : nil,
                    success: index % 2 == 0,
                    seal: index % 2 == 0
                        ? AuditSeal(
                            seq: Int64(index) * 1_000_003, prevHash: (0..<32).map { UInt8(($0 * 37 + index) % 256) },
                            hash: (0..<32).map { UInt8(255 - ($0 * 11 + index) % 256) }) : nil))
        }
        for event in events {
            var buffer = ByteBuffer()
            AuditEventWriter.write(event, into: &buffer)
            let written = try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? NSDictionary
            let encoded = try JSONSerialization.jsonObject(with: PortalJSON.encoder.encode(event)) as? NSDictionary
            #expect(written != nil && written == encoded, "\(event.id): \(String(buffer: buffer))")
        }
        var list = ByteBuffer()
        AuditEventWriter.writeArray(events, into: &list)
        let writtenList = try JSONSerialization.jsonObject(with: Data(list.readableBytesView)) as? NSArray
        let encodedList = try JSONSerialization.jsonObject(with: PortalJSON.encoder.encode(events)) as? NSArray
        #expect(writtenList != nil && writtenList == encodedList)
    }

    @Test("AuditEventWriter's timestamps: whole UTC seconds, rounded down, clamped to years 0001-9999, never a crash")
    func writerTimestamps() {
        let cases: [(Double, String)] = [
            (0, "1970-01-01T00:00:00Z"), (-0.5, "1969-12-31T23:59:59Z"), (1_796_413_507.999, "2026-12-04T19:45:07Z"),
            (951_782_400, "2000-02-29T00:00:00Z"), (Date.distantPast.timeIntervalSince1970, "0001-01-01T00:00:00Z"),
            (Date.distantFuture.timeIntervalSince1970, "4001-01-01T00:00:00Z"), (1e13, "9999-12-31T23:59:59Z"),
            (-1e13, "0001-01-01T00:00:00Z"), (.nan, "1970-01-01T00:00:00Z"),
        ]
        for (seconds, expected) in cases {
            var buffer = ByteBuffer()
            AuditEventWriter.writeTimestamp(Date(timeIntervalSince1970: seconds), into: &buffer)
            #expect(String(buffer: buffer) == expected, "\(seconds)")
        }
    }

    @Test("AuditEventWriter writes details with their keys sorted: equal maps are equal text")
    func writerSortsDetails() {
        var buffer = ByteBuffer()
        AuditEventWriter.writeObject(["zeta": "1", "alpha": "\"2\"", "mid": "", "Alpha": "4"], into: &buffer)
        #expect(String(buffer: buffer) == #"{"Alpha":"4","alpha":"\"2\"","mid":"","zeta":"1"}"#)
        var empty = ByteBuffer()
        AuditEventWriter.writeObject([:], into: &empty)
        #expect(String(buffer: empty) == "{}")
    }

    @Test("CSV fields: quoted when needed, formulas defused")
    func csvFields() {
        #expect(AuditExportFormat.csvField("plain") == "plain")
        #expect(AuditExportFormat.csvField("a,b") == "\"a,b\"")
        #expect(AuditExportFormat.csvField("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(AuditExportFormat.csvField("line\r\nbreak") == "\"line\r\nbreak\"")
        #expect(AuditExportFormat.csvField("=1+1") == "'=1+1")
        #expect(AuditExportFormat.csvField("-2") == "'-2")
        #expect(AuditExportFormat.csvField("@SUM(A1)") == "'@SUM(A1)")
        #expect(AuditExportFormat.csvField("+x,y") == "\"'+x,y\"")
    }
}
