import Domain
import Foundation
import NIOHTTP1
import Services

/// Removes a demo identity's grants on the NeoSC project through Zitadel's management API:
/// `POST /management/v1/users/grants/_search` for the user's grants on `ZITADEL_PROJECT_ID`, then
/// `DELETE /management/v1/users/{userId}/grants/{grantId}` for each, with a service user's token
/// (`ZITADEL_SERVICE_TOKEN`). Accounts not linked to Zitadel have nothing to remove.
public struct ZitadelRoleRevoker: IdentityRoleRevoker {
    let issuer: String
    let projectID: String
    let token: String
    let http: OutboundHTTP

    public init(issuer: String, projectID: String, token: String, http: OutboundHTTP) {
        self.issuer = issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer
        self.projectID = projectID
        self.token = token
        self.http = http
    }

    public func removeRole(of user: User) async throws {
        guard let subject = user.ssoSubject, user.ssoProvider == issuer || user.ssoProvider == issuer + "/" else { return }
        let headers = [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json"), ("Accept", "application/json")]
        let search = try JSONSerialization.data(withJSONObject: [
            "queries": [
                ["userIdQuery": ["userId": subject]], ["projectIdQuery": ["projectId": projectID]],
            ]
        ])
        let found = try await http.send(.POST, "\(issuer)/management/v1/users/grants/_search", headers: headers, body: search)
        guard found.status == 200 else {
            throw DriverFailure(description: "Zitadel answered \(found.status) listing the grants of \(subject)")
        }
        struct Grants: Decodable {
            struct Grant: Decodable { var id: String }
            var result: [Grant]?
        }
        for grant in (try? JSONDecoder().decode(Grants.self, from: found.body))?.result ?? [] {
            let removed = try await http.send(
                .DELETE, "\(issuer)/management/v1/users/\(FormEncoding.encode(subject))/grants/\(FormEncoding.encode(grant.id))",
                headers: headers)
            guard (200..<300).contains(removed.status) || removed.status == 404 else {
                throw DriverFailure(description: "Zitadel answered \(removed.status) removing grant \(grant.id)")
            }
        }
    }
}
