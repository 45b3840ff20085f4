import Domain
import Foundation
import HTTPTypes
import Hummingbird
import Integrations
import Services

/// `POST /api/integrations/zitadel/token-claims`: the target of a Zitadel Actions v2 function
/// (`preuserinfo` or `preaccesstoken`). Zitadel signs each call (`ZITADEL-Signature`, HMAC with
/// the target's signing key, `ZITADEL_ACTIONS_SIGNING_KEY`); NeoSC answers the claims to append
/// (`TokenComplement`). Served only when the key is set; it needs no NeoSC credential, in
/// either sign-in mode: the signature is the caller's proof.
struct ZitadelActionRoutes {
    let complement: TokenComplement
    let signingKey: Secret
    let projectID: String
    let clock: WallClock

    func register(on router: Router<PortalRequestContext>) {
        router.post("api/integrations/zitadel/token-claims", use: tokenClaims)
    }

    struct Appended: Encodable, Sendable {
        var appendClaims: [ClaimBody]

        enum CodingKeys: String, CodingKey { case appendClaims = "append_claims" }
    }

    struct ClaimBody: Encodable, Sendable {
        var key: String
        var value: TokenComplement.Value

        enum CodingKeys: String, CodingKey { case key, value }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(key, forKey: .key)
            switch value {
            case .string(let text): try container.encode(text, forKey: .value)
            case .strings(let texts): try container.encode(texts, forKey: .value)
            case .number(let number): try container.encode(number, forKey: .value)
            }
        }
    }

    @Sendable func tokenClaims(_ request: Request, context: PortalRequestContext) async throws -> JSONBody<Appended> {
        let body = Array(try await request.body.collect(upTo: context.maxUploadSize).readableBytesView)
        guard
            ZitadelActionSignature.isValid(
                request.headers[HTTPField.Name(ZitadelActionSignature.headerName)!], body: body, key: signingKey.value,
                now: clock.now())
        else {
            throw DomainError.unauthenticated("A valid ZITADEL-Signature is required")
        }
        guard let call = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw DomainError.malformed("Request body must be a JSON object")
        }
        let claims = try await complement.claims(for: Self.person(in: call, projectID: projectID))
        return JSONBody(Appended(appendClaims: claims.map { ClaimBody(key: $0.key, value: $0.value) }))
    }

    /// The person in a function call: `userinfo` (OIDC claims) first, then `user.human`; the
    /// roles of the grants on NeoSC's project only (another project's `admin` is not NeoSC's);
    /// the account's creation time. Zitadel writes some keys in snake case and some (protojson)
    /// in camel case: both are read.
    static func person(in call: [String: Any], projectID: String) -> TokenComplement.Person {
        func value(_ object: [String: Any]?, _ names: String...) -> Any? {
            names.lazy.compactMap { object?[$0] }.first
        }
        let userinfo = call["userinfo"] as? [String: Any]
        let human = (call["user"] as? [String: Any])?["human"] as? [String: Any]
        let email = value(userinfo, "email") as? String ?? value(human, "email") as? String
        let verified =
            value(userinfo, "email_verified", "emailVerified") as? Bool
            ?? value(human, "is_email_verified", "isEmailVerified") as? Bool ?? false
        let grants = value(call, "user_grants", "userGrants") as? [[String: Any]] ?? []
        let roles = grants.filter { value($0, "projectId", "project_id") as? String == projectID }
            .flatMap { $0["roles"] as? [String] ?? [] }
        let created = (value(call["user"] as? [String: Any], "creation_date", "creationDate") as? String)
            .flatMap { try? Date($0, strategy: .iso8601) }
        return TokenComplement.Person(email: email, emailVerified: verified, grantedRoles: roles, createdAt: created)
    }
}
