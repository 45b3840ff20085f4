import Foundation

public enum PolicyKind: String, Sendable, CaseIterable, Codable {
    case mfaRequired = "mfa_required"
    case timeWindow = "time_window"
    case addressAllowlist = "address_allowlist"
    case rateLimit = "rate_limit"
    case networkRequired = "network_required"
    case sessionRecording = "session_recording"
}

/// Which requests a rule is checked on: sign-ins, workspace launches, or every API call
/// (sign-ins and launches included).
public enum PolicyStage: String, Sendable, CaseIterable, Codable {
    case signIn = "sign_in"
    case launch
    case all

    /// Whether a rule that `appliesTo` this covers a request at `stage`.
    func covers(_ stage: PolicyRequest.Stage) -> Bool {
        switch self {
        case .all: true
        case .signIn: stage == .signIn
        case .launch: stage == .launch
        }
    }
}

/// What a policy decides, by kind, with its settings checked.
public enum PolicyRule: Sendable, Equatable {
    /// Sign-ins, launches, or (`all`) both and every API call but those that lead to MFA need a
    /// second factor: an MFA-verified session, or at a password sign-in an account that has one.
    case mfaRequired(appliesTo: PolicyStage)
    /// Outside the window, requests are refused with the next opening.
    case timeWindow(TimeWindow, appliesTo: PolicyStage)
    /// Only client addresses in one of the ranges.
    case addressAllowlist([AddressRange], appliesTo: PolicyStage)
    /// A token bucket per key: `requests` per `perSeconds`, refilled continuously.
    case rateLimit(requests: Int, perSeconds: Int, key: RateLimitKey)
    /// Launching a workspace that `requires_netbird` needs a NetBird peer: the provider's claim
    /// named `claim`, or a peer registered for the user.
    case networkRequired(claim: String)
    /// Sessions launched in scope are recorded, and recordings kept `retentionDays`.
    case sessionRecording(retentionDays: Int)
    /// A stored policy that no longer reads (its settings or scope written by another version or
    /// edited by hand, or a kind a newer version wrote), of the kind stored as `kind`: it refuses
    /// every request in its scope until an administrator fixes or removes it.
    case unreadable(kind: String, problem: String)

    public enum RateLimitKey: String, Sendable, Codable {
        case user, address
    }

    /// Nil for a kind this version does not know.
    public var kind: PolicyKind? {
        switch self {
        case .mfaRequired: .mfaRequired
        case .timeWindow: .timeWindow
        case .addressAllowlist: .addressAllowlist
        case .rateLimit: .rateLimit
        case .networkRequired: .networkRequired
        case .sessionRecording: .sessionRecording
        case .unreadable(let kind, _): PolicyKind(rawValue: kind)
        }
    }

    /// Why a scope naming workspaces could never cover a request this rule is checked on, if it
    /// could not: only a launch names a workspace (a sign-in and any other call name none), so
    /// such a policy would be accepted and never apply, while `/evaluate`, asked about a
    /// workspace, said it did. (`applies_to: all` covers launches: with workspaces, it applies to
    /// launches of them.)
    public var workspaceScopeProblem: String? {
        switch self {
        case .mfaRequired(let stage), .timeWindow(_, let stage), .addressAllowlist(_, let stage):
            stage == .signIn
                ? "scope.workspaces does not apply to sign-ins, which name no workspace: use settings.applies_to launch or all"
                : nil
        case .rateLimit:
            "scope.workspaces does not apply to a rate limit: it counts calls, which name no workspace"
        case .networkRequired, .sessionRecording, .unreadable:
            nil
        }
    }

    /// The kind as stored and shown (`mfa_required`, …), known to this version or not.
    public var kindName: String {
        if case .unreadable(let kind, _) = self { return kind }
        return kind?.rawValue ?? ""
    }

    /// The rule `settings` describe for `kind`; 422 naming the field that is wrong.
    /// A field of another kind is refused too, so a setting sent to the wrong kind (an allow-list's
    /// `cidrs` on a time window) is not silently ignored.
    public init(kind: PolicyKind, settings: PolicySettings) throws(DomainError) {
        if let stray = settings.presentFields.first(where: { !Self.fields(of: kind).contains($0) }) {
            throw .invalid("settings.\(stray) does not apply to \(kind.rawValue)")
        }
        func stage(default fallback: PolicyStage, allowed: [PolicyStage] = PolicyStage.allCases) throws(DomainError) -> PolicyStage {
            guard let text = settings.appliesTo else { return fallback }
            guard let stage = PolicyStage(rawValue: text), allowed.contains(stage) else {
                throw .invalid("settings.applies_to must be one of \(allowed.map(\.rawValue).joined(separator: ", "))")
            }
            return stage
        }
        switch kind {
        case .mfaRequired:
            self = .mfaRequired(appliesTo: try stage(default: .all))
        case .timeWindow:
            guard let dayNames = settings.days, !dayNames.isEmpty else { throw .invalid("settings.days must list at least one day") }
            var days: Set<TimeWindow.Day> = []
            for name in dayNames {
                guard let day = TimeWindow.Day(rawValue: name.lowercased()) else {
                    throw .invalid("settings.days: '\(name.prefix(20))' is not one of mon, tue, wed, thu, fri, sat, sun")
                }
                days.insert(day)
            }
            guard let startText = settings.start, let start = TimeWindow.minutes(startText) else {
                throw .invalid("settings.start must be a time as HH:MM")
            }
            guard let endText = settings.end, let end = TimeWindow.minutes(endText) else {
                throw .invalid("settings.end must be a time as HH:MM")
            }
            guard start != end else { throw .invalid("settings.end must differ from settings.start") }
            guard start < end || settings.overnight == true else {
                throw .invalid("settings.start must be before settings.end (or set settings.overnight: true)")
            }
            // Dropped, it would leave a window the writer meant to run across midnight as a day's.
            guard start > end || settings.overnight != true else {
                throw .invalid("settings.overnight: true needs settings.start after settings.end (a window across midnight)")
            }
            guard let zoneName = settings.timeZone, zoneName.utf8.count <= 64, let zone = TimeZone(identifier: zoneName),
                zoneName.contains("/") || zoneName == "UTC"
            else { throw .invalid("settings.time_zone must be an IANA time zone such as America/Mexico_City") }
            self = .timeWindow(
                TimeWindow(days: days, start: start, end: end, timeZone: zone, zoneName: zoneName), appliesTo: try stage(default: .all))
        case .addressAllowlist:
            guard let texts = settings.cidrs, !texts.isEmpty, texts.count <= 1_000 else {
                throw .invalid("settings.cidrs must list 1 to 1000 address ranges")
            }
            var ranges: [AddressRange] = []
            for text in texts {
                guard text.utf8.count <= 64, let range = AddressRange(text) else {
                    throw .invalid("settings.cidrs: '\(text.prefix(64))' is not an IPv4 or IPv6 address or CIDR block")
                }
                ranges.append(range)
            }
            self = .addressAllowlist(ranges, appliesTo: try stage(default: .all))
        case .rateLimit:
            guard let requests = settings.requests, (1...1_000_000).contains(requests) else {
                throw .invalid("settings.requests must be a whole number from 1 to 1000000")
            }
            guard let perSeconds = settings.perSeconds, (1...86_400).contains(perSeconds) else {
                throw .invalid("settings.per_seconds must be a whole number from 1 to 86400")
            }
            let key = try settings.key.map { (text: String) throws(DomainError) -> RateLimitKey in
                guard let key = RateLimitKey(rawValue: text) else { throw .invalid("settings.key must be user or address") }
                return key
            }
            self = .rateLimit(requests: requests, perSeconds: perSeconds, key: key ?? .user)
        case .networkRequired:
            let claim = settings.claim ?? "netbird_peer_id"
            guard (1...100).contains(claim.utf8.count), claim.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_-:.".contains($0)) })
            else { throw .invalid("settings.claim must be a claim name (letters, digits, _ - : .; at most 100)") }
            self = .networkRequired(claim: claim)
        case .sessionRecording:
            let days = settings.retentionDays ?? 30
            guard (1...3_650).contains(days) else { throw .invalid("settings.retention_days must be from 1 to 3650") }
            self = .sessionRecording(retentionDays: days)
        }
    }

    /// The settings fields each kind reads.
    static func fields(of kind: PolicyKind) -> Set<String> {
        switch kind {
        case .mfaRequired: ["applies_to"]
        case .timeWindow: ["days", "start", "end", "time_zone", "overnight", "applies_to"]
        case .addressAllowlist: ["cidrs", "applies_to"]
        case .rateLimit: ["requests", "per_seconds", "key"]
        case .networkRequired: ["claim"]
        case .sessionRecording: ["retention_days"]
        }
    }

    /// The settings this rule was made from, as they are stored and shown (defaults filled in).
    public var settings: PolicySettings {
        var settings = PolicySettings()
        switch self {
        case .mfaRequired(let stage):
            settings.appliesTo = stage.rawValue
        case .timeWindow(let window, let stage):
            settings.days = TimeWindow.Day.allCases.filter(window.days.contains).map(\.rawValue)
            settings.start = TimeWindow.text(minutes: window.start)
            settings.end = TimeWindow.text(minutes: window.end)
            settings.timeZone = window.zoneName
            settings.overnight = window.overnight ? true : nil
            settings.appliesTo = stage.rawValue
        case .addressAllowlist(let ranges, let stage):
            settings.cidrs = ranges.map(\.description)
            settings.appliesTo = stage.rawValue
        case .rateLimit(let requests, let perSeconds, let key):
            settings.requests = requests
            settings.perSeconds = perSeconds
            settings.key = key.rawValue
        case .networkRequired(let claim):
            settings.claim = claim
        case .sessionRecording(let days):
            settings.retentionDays = days
        case .unreadable:
            break
        }
        return settings
    }
}

/// A policy's settings as JSON carries them: every kind's fields, each optional; `PolicyRule`
/// checks the ones its kind needs.
public struct PolicySettings: Sendable, Equatable, Codable {
    public var appliesTo: String?
    public var days: [String]?
    public var start: String?
    public var end: String?
    public var timeZone: String?
    public var overnight: Bool?
    public var cidrs: [String]?
    public var requests: Int?
    public var perSeconds: Int?
    public var key: String?
    public var claim: String?
    public var retentionDays: Int?

    public init() {}

    /// Every setting's name, in its wire spelling.
    public static let fields = Set(CodingKeys.allCases.map(\.rawValue))

    /// The names of the fields that are set, in their wire spelling.
    var presentFields: [String] {
        var names: [String] = []
        if appliesTo != nil { names.append("applies_to") }
        if days != nil { names.append("days") }
        if start != nil { names.append("start") }
        if end != nil { names.append("end") }
        if timeZone != nil { names.append("time_zone") }
        if overnight != nil { names.append("overnight") }
        if cidrs != nil { names.append("cidrs") }
        if requests != nil { names.append("requests") }
        if perSeconds != nil { names.append("per_seconds") }
        if key != nil { names.append("key") }
        if claim != nil { names.append("claim") }
        if retentionDays != nil { names.append("retention_days") }
        return names
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case days, start, end, overnight, cidrs, requests, key, claim
        case appliesTo = "applies_to"
        case timeZone = "time_zone"
        case perSeconds = "per_seconds"
        case retentionDays = "retention_days"
    }
}

extension PolicyRule {
    /// The rule stored as `kindName` and `settingsJSON`, or `unreadable` with the reason (a kind
    /// this version does not know is one).
    public static func stored(kindName: String, settingsJSON: String) -> PolicyRule {
        guard let kind = PolicyKind(rawValue: kindName) else {
            return .unreadable(kind: kindName, problem: "its kind '\(kindName)' is not one this version knows")
        }
        // A setting this version does not know (a newer one's narrowing of the rule) must not be
        // dropped: the rule without it could let through what it refuses.
        if let object = try? JSONSerialization.jsonObject(with: Data(settingsJSON.utf8)) as? [String: Any],
            let stray = object.keys.sorted().first(where: { !PolicySettings.fields.contains($0) })
        {
            return .unreadable(kind: kindName, problem: "settings.\(stray) is not a setting this version knows")
        }
        do {
            return try PolicyRule(kind: kind, settings: try PolicySettings(json: settingsJSON))
        } catch let error as DomainError {
            return .unreadable(kind: kindName, problem: error.detail)
        } catch {
            return .unreadable(kind: kindName, problem: "settings are not JSON of the expected shape")
        }
    }
}

extension PolicySettings {
    /// The stored form: JSON with sorted keys.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    public init(json: String) throws {
        self = try JSONDecoder().decode(PolicySettings.self, from: Data(json.utf8))
    }
}

extension PolicyScope {
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    public init(json: String) throws {
        self = try JSONDecoder().decode(PolicyScope.self, from: Data(json.utf8))
    }
}
