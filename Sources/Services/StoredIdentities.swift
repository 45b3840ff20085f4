import Domain
import Foundation

/// Who stored bearer tokens stand for now: the tokens with their accounts (one query), then
/// organisations and, for demo visitors, demos, however many tokens are asked about, and judged
/// by `TokenAdmission`. What a token's first request reads, and what the batch renewal of cached
/// tokens reads again.
struct StoredIdentities: Sendable {
    let store: any Store

    /// For each of `digests`, in order, the identity its token stands for at `now`, or why none.
    func admissions(of digests: [String], at now: Date) async throws -> [Result<Identity, DomainError>] {
        let held = try await store.tokensWithHolders(digests: digests)
        let tokens = Self.byKey(held.map(\.token), \.digest)
        // Only a live token's account counts (and only then are its organisation and demo read).
        let users = Self.byKey(held.filter { $0.token.isValid(at: now) }.compactMap(\.holder), \.id)
        let enabled = users.values.filter { !$0.disabled }
        let organizations = try await Self.byKey(store.organizations(ids: Array(Set(enabled.compactMap(\.organizationID)))), \.id)
        // A demo visitor's access is its demo's: few at a time, read one by one.
        var demos: [String: DemoSession] = [:]
        for user in enabled where user.role == .demoUser {
            demos[user.id] = try await store.demo(userID: user.id)
        }
        return digests.map { digest in
            let token = tokens[digest]
            let user = token.flatMap { users[$0.userID] }
            return TokenAdmission.decide(
                token: token, user: user, demo: user.flatMap { demos[$0.id] },
                organization: user?.organizationID.flatMap { organizations[$0] }, at: now)
        }
    }

    private static func byKey<T>(_ values: [T], _ key: (T) -> String) -> [String: T] {
        Dictionary(values.map { (key($0), $0) }, uniquingKeysWith: { first, _ in first })
    }
}
