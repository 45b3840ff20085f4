import Domain
import Foundation
import Testing

/// Policies as typed rules: their settings checked field by field, and their decisions, pure.
@Suite("Policy rules: settings, time windows across DST, address ranges, scopes, verdicts")
struct PolicyRulesTests {
    static func at(_ text: String) throws -> Date { try Date(text, strategy: .iso8601) }

    static func settings(_ fill: (inout PolicySettings) -> Void) -> PolicySettings {
        var settings = PolicySettings()
        fill(&settings)
        return settings
    }

    static func window(
        _ days: [String], _ start: String, _ end: String, _ zone: String, overnight: Bool? = nil
    ) throws
        -> TimeWindow
    {
        let rule = try PolicyRule(
            kind: .timeWindow,
            settings: settings {
                $0.days = days
                $0.start = start
                $0.end = end
                $0.timeZone = zone
                $0.overnight = overnight
            })
        guard case .timeWindow(let window, _) = rule else { throw DomainError.invalid("not a window") }
        return window
    }

    @Test("bad settings are refused naming the field")
    func badSettingsNameTheirField() {
        func refusal(_ kind: PolicyKind, _ fill: (inout PolicySettings) -> Void) -> String? {
            do {
                _ = try PolicyRule(kind: kind, settings: Self.settings(fill))
                return nil
            } catch {
                return error.detail
            }
        }
        let weekdays: (inout PolicySettings) -> Void = {
            $0.days = ["mon"]
            $0.start = "08:00"
            $0.end = "18:00"
            $0.timeZone = "America/Mexico_City"
        }
        #expect(refusal(.timeWindow, weekdays) == nil)
        #expect(
            refusal(.timeWindow) {
                weekdays(&$0)
                $0.timeZone = "Mars/Olympus_Mons"
            }?.contains("time_zone") == true)
        #expect(
            refusal(.timeWindow) {
                weekdays(&$0)
                $0.start = "18:00"
                $0.end = "08:00"
            }?.contains("overnight") == true)
        #expect(
            refusal(.timeWindow) {
                weekdays(&$0)
                $0.start = "18:00"
                $0.end = "08:00"
                $0.overnight = true
            } == nil)
        // Said overnight of a day's window: refused, not dropped (a probe's find).
        #expect(
            refusal(.timeWindow) {
                weekdays(&$0)
                $0.overnight = true
            }?.contains("settings.overnight") == true)
        #expect(
            refusal(.timeWindow) {
                weekdays(&$0)
                $0.overnight = false
            } == nil)
        #expect(
            refusal(.timeWindow) {
                weekdays(&$0)
                $0.start = "8:00"
            }?.contains("settings.start") == true)
        #expect(
            refusal(.timeWindow) {
                weekdays(&$0)
                $0.end = "24:01"
            }?.contains("settings.end") == true)
        #expect(
            refusal(.timeWindow) {
                weekdays(&$0)
                $0.days = ["funday"]
            }?.contains("settings.days") == true)
        #expect(
            refusal(.timeWindow) {
                weekdays(&$0)
                $0.appliesTo = "sometimes"
            }?.contains("applies_to") == true)
        #expect(refusal(.addressAllowlist) { $0.cidrs = ["10.0.0.0/33"] }?.contains("settings.cidrs") == true)
        #expect(refusal(.addressAllowlist) { $0.cidrs = ["2001:db8::/129"] }?.contains("settings.cidrs") == true)
        #expect(refusal(.addressAllowlist) { $0.cidrs = [] }?.contains("settings.cidrs") == true)
        #expect(
            refusal(.rateLimit) {
                $0.requests = 0
                $0.perSeconds = 30
            }?.contains("settings.requests") == true)
        #expect(
            refusal(.rateLimit) {
                $0.requests = 10
                $0.perSeconds = -1
            }?.contains("settings.per_seconds") == true)
        #expect(
            refusal(.rateLimit) {
                $0.requests = 10
                $0.perSeconds = 1
                $0.key = "planet"
            }?.contains("settings.key") == true)
        #expect(refusal(.mfaRequired) { $0.appliesTo = "never" }?.contains("applies_to") == true)
        // Stored by a newer version with a setting this one does not know: refuses, never drops it.
        let newer = PolicyRule.stored(
            kindName: "address_allowlist", settingsJSON: #"{"applies_to":"all","cidrs":["0.0.0.0/0"],"except":["10.0.0.0/8"]}"#)
        #expect(newer == .unreadable(kind: "address_allowlist", problem: "settings.except is not a setting this version knows"))
        #expect(PolicyRule.stored(kindName: "geo_fence", settingsJSON: "{}").kind == nil)
        #expect(refusal(.sessionRecording) { $0.retentionDays = 0 }?.contains("retention_days") == true)
        #expect(refusal(.networkRequired) { $0.claim = "no spaces" }?.contains("settings.claim") == true)
        #expect(
            refusal(.timeWindow) {
                weekdays(&$0)
                $0.cidrs = ["10.0.0.0/8"]
            } == "settings.cidrs does not apply to time_window")
        #expect(
            refusal(.rateLimit) {
                $0.requests = 1
                $0.perSeconds = 1
                $0.retentionDays = 3_651
            }?.contains("retention_days") == true)
    }

    @Test("settings read back as they were written, defaults filled in")
    func settingsRoundTrip() throws {
        for kind in PolicyKind.allCases {
            let written = Self.settings {
                switch kind {
                case .timeWindow:
                    $0.days = ["fri", "mon"]
                    $0.start = "22:00"
                    $0.end = "06:00"
                    $0.overnight = true
                    $0.timeZone = "Europe/Berlin"
                case .addressAllowlist: $0.cidrs = ["10.0.0.0/8", "2001:db8::/32"]
                case .rateLimit:
                    $0.requests = 3_000
                    $0.perSeconds = 30
                default: break
                }
            }
            let rule = try PolicyRule(kind: kind, settings: written)
            #expect(try PolicyRule(kind: kind, settings: try PolicySettings(json: rule.settings.json)) == rule, "\(kind)")
        }
        let limit = try PolicyRule(
            kind: .rateLimit,
            settings: Self.settings {
                $0.requests = 3_000
                $0.perSeconds = 30
            })
        #expect(limit.settings.key == "user")
        #expect(try PolicyRule(kind: .sessionRecording, settings: PolicySettings()).settings.retentionDays == 30)
    }

    @Test("business hours in Mexico City across its last daylight-saving changes (2022) and after their abolition")
    func mexicoCityAcrossDST() throws {
        let hours = try Self.window(["mon", "tue", "wed", "thu", "fri"], "08:00", "18:00", "America/Mexico_City")
        // Friday 1 April 2022, standard time (UTC−6).
        #expect(!hours.isOpen(at: try Self.at("2022-04-01T13:59:00Z")))
        #expect(hours.isOpen(at: try Self.at("2022-04-01T14:00:00Z")))
        // Monday 4 April 2022, summer time (UTC−5) since the 3rd.
        #expect(!hours.isOpen(at: try Self.at("2022-04-04T12:59:00Z")))
        #expect(hours.isOpen(at: try Self.at("2022-04-04T13:00:00Z")))
        #expect(!hours.isOpen(at: try Self.at("2022-04-04T23:00:00Z")), "18:00 local closes")
        // Monday 31 October 2022, standard time again, for good.
        #expect(!hours.isOpen(at: try Self.at("2022-10-31T13:59:00Z")))
        #expect(hours.isOpen(at: try Self.at("2022-10-31T14:00:00Z")))
        // Monday 3 April 2023: no summer time any more.
        #expect(!hours.isOpen(at: try Self.at("2023-04-03T13:00:00Z")))
        #expect(hours.isOpen(at: try Self.at("2023-04-03T14:00:00Z")))
        // Saturday.
        #expect(!hours.isOpen(at: try Self.at("2022-04-02T18:00:00Z")))
        // From Friday evening, the next opening is Monday 08:00 — in summer time.
        #expect(hours.nextOpening(after: try Self.at("2022-04-01T23:30:00Z")) == (try Self.at("2022-04-04T13:00:00Z")))
    }

    @Test("business hours in Berlin across both changes of 2025, and an overnight window")
    func berlinAcrossDST() throws {
        let hours = try Self.window(["mon", "tue", "wed", "thu", "fri"], "09:00", "17:00", "Europe/Berlin")
        #expect(!hours.isOpen(at: try Self.at("2025-03-28T07:59:00Z")))
        #expect(hours.isOpen(at: try Self.at("2025-03-28T08:00:00Z")), "CET, UTC+1")
        #expect(!hours.isOpen(at: try Self.at("2025-03-31T06:59:00Z")))
        #expect(hours.isOpen(at: try Self.at("2025-03-31T07:00:00Z")), "CEST, UTC+2")
        #expect(hours.nextOpening(after: try Self.at("2025-03-28T16:00:00Z")) == (try Self.at("2025-03-31T07:00:00Z")))
        #expect(!hours.isOpen(at: try Self.at("2025-10-27T07:59:00Z")))
        #expect(hours.isOpen(at: try Self.at("2025-10-27T08:00:00Z")), "CET again")
        #expect(hours.nextOpening(after: try Self.at("2025-10-24T16:00:00Z")) == (try Self.at("2025-10-27T08:00:00Z")))

        // On the change days themselves: 02:30 does not exist on 30 March (the window opens when the
        // clocks jump, 01:00 UTC) and happens twice on 26 October (the first time counts).
        let earlySunday = try Self.window(["sun"], "02:30", "04:00", "Europe/Berlin")
        #expect(earlySunday.nextOpening(after: try Self.at("2025-03-29T12:00:00Z")) == (try Self.at("2025-03-30T01:00:00Z")))
        #expect(earlySunday.isOpen(at: try Self.at("2025-03-30T01:00:00Z")))
        #expect(earlySunday.nextOpening(after: try Self.at("2025-10-25T12:00:00Z")) == (try Self.at("2025-10-26T00:30:00Z")))
        #expect(earlySunday.isOpen(at: try Self.at("2025-10-26T00:30:00Z")))
        // A window wholly in the skipped hour does not open that day: the next opening is a week
        // on, not the instant the clocks jump (at which it would still be closed).
        let skipped = try Self.window(["sun"], "02:00", "02:30", "Europe/Berlin")
        #expect(!skipped.isOpen(at: try Self.at("2025-03-30T01:00:00Z")))
        #expect(skipped.nextOpening(after: try Self.at("2025-03-30T00:59:59Z")) == (try Self.at("2025-04-06T00:00:00Z")))
        #expect(skipped.nextOpening(after: try Self.at("2025-03-27T12:00:00Z")) == (try Self.at("2025-04-06T00:00:00Z")))
        let newYork = try Self.window(["sun"], "02:30", "03:30", "America/New_York")
        #expect(newYork.nextOpening(after: try Self.at("2025-03-08T12:00:00Z")) == (try Self.at("2025-03-09T07:00:00Z")))
        // A window to the end of the day.
        let late = try Self.window(["mon"], "20:00", "24:00", "UTC")
        #expect(late.isOpen(at: try Self.at("2025-10-27T23:59:59Z")))
        #expect(!late.isOpen(at: try Self.at("2025-10-28T00:00:00Z")))

        let night = try Self.window(["fri"], "22:00", "06:00", "Europe/Berlin", overnight: true)
        #expect(!night.isOpen(at: try Self.at("2025-10-24T19:59:00Z")), "Friday 21:59 CEST")
        #expect(night.isOpen(at: try Self.at("2025-10-24T20:00:00Z")), "Friday 22:00 CEST")
        #expect(night.isOpen(at: try Self.at("2025-10-25T03:59:00Z")), "Saturday 05:59 CEST")
        #expect(!night.isOpen(at: try Self.at("2025-10-25T04:00:00Z")), "Saturday 06:00 CEST")
        #expect(!night.isOpen(at: try Self.at("2025-10-23T21:00:00Z")), "Thursday night is not Friday's")
    }

    static func policy(_ rule: PolicyRule, scope: PolicyScope = PolicyScope(), id: String = "pol-t") -> Policy {
        Policy(
            id: id, name: "t", description: "", category: "c", enabled: true, weight: 0, scope: scope, rule: rule,
            updatedAt: Date(timeIntervalSince1970: 0))
    }

    static func request(
        _ stage: PolicyRequest.Stage, role: Role? = .neosc, address: String? = "10.1.2.3", mfa: Bool = false,
        workspace: String? = nil, netbird: Bool = false, claims: Set<String> = [], at: Date = Date(timeIntervalSince1970: 0)
    ) -> PolicyRequest {
        PolicyRequest(
            stage: stage, role: role, userID: "usr-1", organizationID: "org-1", workspaceID: workspace,
            workspaceRequiresNetbird: netbird, address: address, mfaVerified: mfa, claims: claims, at: at)
    }

    @Test("each kind allows and denies; a scope leaves out who it does not name")
    func verdicts() throws {
        func outcome(_ policy: Policy, _ request: PolicyRequest) -> PolicyVerdict.Outcome {
            PolicyEvaluation.verdict(policy, request).outcome
        }
        let mfa = Self.policy(.mfaRequired(appliesTo: .launch), scope: PolicyScope(roles: [.admin, .neosc]))
        #expect(outcome(mfa, Self.request(.launch, workspace: "ws-a")) == .denied(remedy: "verify_mfa", retryAt: nil))
        #expect(outcome(mfa, Self.request(.launch, mfa: true, workspace: "ws-a")) == .allowed)
        #expect(outcome(mfa, Self.request(.launch, role: .user, workspace: "ws-a")) == .notApplicable, "out of scope")
        #expect(outcome(mfa, Self.request(.call)) == .notApplicable, "launches only")
        let mfaEverywhere = Self.policy(.mfaRequired(appliesTo: .all))
        #expect(outcome(mfaEverywhere, Self.request(.call)) == .denied(remedy: "verify_mfa", retryAt: nil))
        var enrolling = Self.request(.call)
        enrolling.leadsToMFA = true
        #expect(outcome(mfaEverywhere, enrolling) == .notApplicable, "the way to MFA stays open")

        let ranges = try PolicyRule(kind: .addressAllowlist, settings: Self.settings { $0.cidrs = ["10.0.0.0/8", "2001:db8::/32"] })
        let allowlist = Self.policy(ranges)
        #expect(outcome(allowlist, Self.request(.call, address: "10.200.0.1")) == .allowed)
        #expect(outcome(allowlist, Self.request(.call, address: "2001:db8:ffff::1")) == .allowed)
        #expect(outcome(allowlist, Self.request(.call, address: "::ffff:10.0.0.9")) == .allowed, "IPv4-mapped")
        #expect(outcome(allowlist, Self.request(.call, address: "192.0.2.1")) == .denied(remedy: "use_allowed_network", retryAt: nil))
        #expect(outcome(allowlist, Self.request(.call, address: "2001:db9::1")) == .denied(remedy: "use_allowed_network", retryAt: nil))
        #expect(outcome(allowlist, Self.request(.call, address: nil)) == .denied(remedy: "use_allowed_network", retryAt: nil))

        let netbird = Self.policy(.networkRequired(claim: "netbird_peer_id"))
        #expect(outcome(netbird, Self.request(.launch, workspace: "ws-sap", netbird: true)) == .denied(remedy: "connect_netbird", retryAt: nil))
        #expect(outcome(netbird, Self.request(.launch, workspace: "ws-sap", netbird: true, claims: ["netbird_peer_id"])) == .allowed)
        #expect(outcome(netbird, Self.request(.launch, workspace: "ws-web", netbird: false)) == .notApplicable)

        let recording = Self.policy(.sessionRecording(retentionDays: 30), scope: PolicyScope(workspaces: ["ws-sap"]))
        #expect(outcome(recording, Self.request(.launch, workspace: "ws-sap")) == .recorded(retentionDays: 30))
        #expect(outcome(recording, Self.request(.launch, workspace: "ws-web")) == .notApplicable)

        let limit = Self.policy(.rateLimit(requests: 5, perSeconds: 10, key: .user), id: "pol-rl")
        #expect(outcome(limit, Self.request(.call)) == .limited(subject: "usr-1", requests: 5, perSeconds: 10))
        #expect(outcome(limit, Self.request(.call, role: nil)) == .limited(subject: "usr-1", requests: 5, perSeconds: 10))
        let byAddress = Self.policy(.rateLimit(requests: 5, perSeconds: 10, key: .address), id: "pol-ra")
        #expect(outcome(byAddress, Self.request(.call)) == .limited(subject: "10.1.2.3", requests: 5, perSeconds: 10))

        let hours = Self.policy(.timeWindow(try Self.window(["mon"], "08:00", "18:00", "UTC"), appliesTo: .signIn))
        let monday = try Self.at("2025-10-27T09:00:00Z")
        let sunday = try Self.at("2025-10-26T09:00:00Z")
        #expect(outcome(hours, Self.request(.signIn, at: monday)) == .allowed)
        #expect(outcome(hours, Self.request(.signIn, at: sunday)) == .denied(remedy: "wait", retryAt: try Self.at("2025-10-27T08:00:00Z")))
        #expect(outcome(hours, Self.request(.call, at: sunday)) == .notApplicable, "sign-ins only")

        var off = mfa
        off.enabled = false
        let decision = PolicyEvaluation.decide([off, netbird, recording, limit], for: Self.request(.launch, workspace: "ws-sap", netbird: true))
        #expect(decision.refusal?.policyID == netbird.id)
        #expect(decision.recordingRetentionDays == 30 && decision.limits.count == 1)
        #expect(PolicyEvaluation.verdicts([off, netbird], for: Self.request(.call)).map(\.policyID) == [netbird.id], "enabled ones only")
    }
}
