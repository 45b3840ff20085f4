/// Password hashing as the services need it; bcrypt on its own threads in `neosc serve`.
public protocol PasswordHashing: Sendable {
    func hash(_ password: String) async throws -> String
    /// Whether `password` matches `hash`; with no hash, spends the same time and answers false.
    func verify(_ password: String, against hash: String?) async throws -> Bool
}
