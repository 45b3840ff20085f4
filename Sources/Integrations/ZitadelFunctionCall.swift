import Foundation
import Services

/// A Zitadel Actions v2 function call (`preuserinfo`, `preaccesstoken`) as NeoSC reads it: the
/// person the token is for (zitadel/zitadel `docs/docs/guides/integrate/actions/usage.md`).
public enum ZitadelFunctionCall {
    /// The person in `body`: e-mail from `userinfo` (the OIDC claims) first, then `user.human`;
    /// the roles of the grants on NeoSC's project only (another project's `admin` is not
    /// NeoSC's); the account's creation time. Zitadel writes some keys in snake case and some
    /// (protojson) in camel case: both are read. Nil when `body` is not a JSON object.
    public static func person(in body: [UInt8], projectID: String) -> TokenComplement.Person? {
        guard let call = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return nil }
        func value(_ object: [String: Any]?, _ names: String...) -> Any? {
            names.lazy.compactMap { object?[$0] }.first
        }
        let user = call["user"] as? [String: Any]
        let userinfo = call["userinfo"] as? [String: Any]
        let human = user?["human"] as? [String: Any]
        let email = value(userinfo, "email") as? String ?? value(human, "email") as? String
        let verified =
            value(userinfo, "email_verified", "emailVerified") as? Bool
            ?? value(human, "is_email_verified", "isEmailVerified") as? Bool ?? false
        let grants = value(call, "user_grants", "userGrants") as? [[String: Any]] ?? []
        let roles = grants.filter { value($0, "projectId", "project_id") as? String == projectID }
            .flatMap { $0["roles"] as? [String] ?? [] }
        let created = (value(user, "creation_date", "creationDate") as? String).flatMap { try? Date($0, strategy: .iso8601) }
        return TokenComplement.Person(email: email, emailVerified: verified, grantedRoles: roles, createdAt: created)
    }
}
