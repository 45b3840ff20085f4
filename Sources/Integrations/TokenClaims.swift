import Domain
import Foundation
import JWTKit

/// Everything NeoSC reads from an ID token or a Pomerium assertion. Decoded only after the
/// signature has been checked; claims of the wrong JSON type count as absent rather than
/// failing the whole token, since providers differ in small ways (a string `aud` or an array).
struct TokenClaims: JWTPayload {
    var registered: SignedClaims
    var email: String?
    var emailVerified: Bool
    /// `email_verified` sent as a no: false, null, 0, or "false", "0", "no" or empty in any case
    /// (Pomerium forwards a null as ""). Absent, or a value that is neither yes nor plainly no
    /// ("True", 1), it marks nothing: a mark lets another identity take the account over.
    var emailUnverified: Bool
    var name: String?
    /// Pomerium's session id: the same on every assertion of one sign-in.
    var session: String?
    var authenticationMethods: [String]
    var groups: [String]
    /// Role names per Zitadel role claim (`urn:zitadel:iam:org:project[:<id>]:roles`).
    var projectRoles: [String: [String]]
    var demo: DemoBinding?
    /// The names of the claims that carry a value (a non-empty string, a number, true), for the
    /// policies that ask for a claim by name (`network_required`).
    var presentClaims: Set<String>

    /// Signature and claims are checked by `SignedTokenVerifier` against NeoSC's clock.
    func verify(using algorithm: some JWTAlgorithm) async throws {}

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        func string(_ name: String) -> String? { try? container.decodeIfPresent(String.self, forKey: Key(stringValue: name)) }
        func strings(_ name: String) -> [String] {
            let key = Key(stringValue: name)
            if let many = try? container.decodeIfPresent([String].self, forKey: key) { return many }
            return (try? container.decodeIfPresent(String.self, forKey: key)).flatMap { $0.map { [$0] } } ?? []
        }
        /// A registered time claim: absent (or null), or a time. One present that is neither a
        /// number nor an ISO 8601 time makes the token malformed: taken for absent, `iat: "abc"`
        /// or `nbf: "x"` had been no claim at all, and the token accepted.
        func date(_ name: String) throws -> Date? {
            let key = Key(stringValue: name)
            guard container.contains(key), try !container.decodeNil(forKey: key) else { return nil }
            if let seconds = number(name) { return Date(timeIntervalSince1970: seconds) }
            if let time = string(name).flatMap({ try? Date($0, strategy: .iso8601) }) { return time }
            throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "'\(name)' is not a time")
        }
        /// A number, or a number Pomerium turned into a string: it writes every numeric claim it
        /// forwards with Go's `fmt.Sprint`, so 1767225600 arrives as "1.7672256e+09".
        func number(_ name: String) -> Double? {
            let key = Key(stringValue: name)
            if let value = try? container.decodeIfPresent(Double.self, forKey: key) { return value }
            return string(name).flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }.flatMap { $0.isFinite ? $0 : nil }
        }
        /// A time as seconds since 1970 (a number, or Pomerium's string of one) or ISO 8601.
        func forwardedDate(_ name: String) -> Date? {
            number(name).map(Date.init(timeIntervalSince1970:)) ?? string(name).flatMap { try? Date($0, strategy: .iso8601) }
        }
        /// A flag as sent: a boolean, or Pomerium's string of one ("true", "false"); nil when it
        /// is absent or neither.
        func stated(_ name: String) -> Bool? {
            let key = Key(stringValue: name)
            if let flag = try? container.decodeIfPresent(Bool.self, forKey: key) { return flag }
            return string(name).flatMap { ["true": true, "false": false][$0] }
        }

        presentClaims = Set(
            container.allKeys.lazy.filter { key in
                if let text = try? container.decode(String.self, forKey: key) { return !text.isEmpty }
                if (try? container.decode(Double.self, forKey: key)) != nil { return true }
                return (try? container.decode(Bool.self, forKey: key)) == true
            }.map(\.stringValue))
        registered = SignedClaims(
            issuer: string("iss"), subject: string("sub"), audiences: strings("aud"), expiresAt: try date("exp"),
            issuedAt: try date("iat"), notBefore: try date("nbf"), nonce: string("nonce"))
        email = string("email")
        let verified = stated("email_verified")
        emailVerified = verified == true
        emailUnverified = Self.saysNo(container, Key(stringValue: "email_verified"))
        name = string("name") ?? string("preferred_username")
        session = string("sid")
        // A list, or (from Pomerium, which joins lists) one comma-separated string.
        authenticationMethods = strings("amr").flatMap { $0.split(separator: ",").map(String.init) }
        groups = strings("groups")

        var projectRoles: [String: [String]] = [:]
        for key in container.allKeys
        where key.stringValue.hasPrefix("urn:zitadel:iam:org:project:") && key.stringValue.hasSuffix(":roles") {
            if let grants = try? container.decode([String: AnyClaim].self, forKey: key) {
                projectRoles[key.stringValue] = Array(grants.keys)
            } else if let names = try? container.decode([String].self, forKey: key) {
                projectRoles[key.stringValue] = names
            }
        }
        self.projectRoles = projectRoles

        if let sessionID = string("neosc:demo_session_id"), let expiresAt = forwardedDate("neosc:demo_expires_at") {
            let maxDuration =
                string("neosc:max_duration").flatMap(TimeSpan.seconds(parsing:)) ?? number("neosc:max_duration")
            demo = DemoBinding(
                sessionID: sessionID, expiresAt: expiresAt, workspaceType: string("neosc:workspace_type"),
                maxDuration: maxDuration)
        } else {
            demo = nil
        }
    }

    /// Whether claim `key` is present and says no (`emailUnverified`).
    private static func saysNo(_ container: KeyedDecodingContainer<Key>, _ key: Key) -> Bool {
        guard container.contains(key) else { return false }
        if (try? container.decodeNil(forKey: key)) == true { return true }
        if let flag = try? container.decode(Bool.self, forKey: key) { return !flag }
        if let number = try? container.decode(Double.self, forKey: key) { return number == 0 }
        guard let text = try? container.decode(String.self, forKey: key) else { return false }
        return ["", "false", "0", "no"].contains(text.trimmingCharacters(in: .whitespaces).lowercased())
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encodeIfPresent(registered.issuer, forKey: Key(stringValue: "iss"))
        try container.encodeIfPresent(registered.subject, forKey: Key(stringValue: "sub"))
    }

    /// True when `amr` names a second factor (RFC 8176 values, and Zitadel's `mfa`).
    var mfaVerified: Bool {
        let secondFactors: Set<String> = ["mfa", "otp", "hwk", "sms", "swk", "fido", "u2f", "user"]
        return authenticationMethods.contains { secondFactors.contains($0.lowercased()) }
    }

    /// The roles granted through Zitadel's project role claims: the token's own project, and
    /// `projectID`'s when one is configured.
    func zitadelRoles(projectID: String?) -> [String] {
        var names = projectRoles[ProviderRoles.zitadelProjectRolesClaim] ?? []
        if let projectID { names += projectRoles[ProviderRoles.zitadelRolesClaim(projectID: projectID)] ?? [] }
        return names
    }
}

/// Any JSON value, skipped over: only the keys of Zitadel's role maps matter.
private struct AnyClaim: Decodable {
    init(from decoder: any Decoder) throws {}
}
