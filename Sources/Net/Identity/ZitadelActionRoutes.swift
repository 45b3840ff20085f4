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
        let body = Array(try await request.boundedBody(upTo: context.maxUploadSize).readableBytesView)
        guard
            ZitadelActionSignature.isValid(
                request.headers[.zitadelSignature], body: body, key: signingKey.value, now: clock.now())
        else {
            throw DomainError.unauthenticated("A valid ZITADEL-Signature is required")
        }
        // Signed, but held to the same grammar as every other body: read one way here and another
        // by whatever else sees the call, a key given twice would be two calls.
        if let flaw = body.withUnsafeBytes(StrictJSON.flaw(in:)) { throw DomainError(flaw) }
        guard let person = ZitadelFunctionCall.person(in: body, projectID: projectID) else {
            throw DomainError.malformed("Request body must be a JSON object")
        }
        let claims = try await complement.claims(for: person)
        return JSONBody(Appended(appendClaims: claims.map { ClaimBody(key: $0.key, value: $0.value) }))
    }
}

extension HTTPField.Name {
    static let zitadelSignature = Self(ZitadelActionSignature.headerName)!
}
