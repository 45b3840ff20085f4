import Crypto
import Foundation
import HummingbirdBcrypt
import NIOPosix
import Services

/// bcrypt on its own thread pool, so hashing never blocks an event loop and a burst of logins
/// cannot starve the store's threads. The password is first reduced to base64(SHA-256), so bcrypt's
/// 72-byte truncation and NUL bytes cannot make two different passwords equal.
public struct PasswordHasher: PasswordHashing {
    /// The least cost an operator may configure (`NEOSC_BCRYPT_COST`).
    public static let minimumCost: UInt8 = 10
    private let cost: UInt8
    private let threadPool: NIOThreadPool
    /// Verified against when an account does not exist, so that case costs the same time.
    private let decoyHash: String

    /// `cost` is bcrypt's own range, 4 to 31: the configuration keeps deployments at
    /// `minimumCost` or more, and only tests that are not about the cost go lower.
    public init(cost: UInt8, threadPool: NIOThreadPool) {
        precondition(cost >= 4 && cost <= 31, "bcrypt cost must be 4 to 31")
        self.cost = cost
        self.threadPool = threadPool
        self.decoyHash = Bcrypt.hash(Self.prepared("decoy password \(UUID())"), cost: cost)
    }

    /// Stops the hashing threads once the hashes under way are done.
    public func shutdown() async throws {
        try await threadPool.shutdownGracefully()
    }

    public func hash(_ password: String) async throws -> String {
        let prepared = Self.prepared(password)
        let cost = self.cost
        return try await threadPool.runIfActive { Bcrypt.hash(prepared, cost: cost) }
    }

    /// Whether `password` matches `hash`; with no hash, spends the same time and answers false.
    public func verify(_ password: String, against hash: String?) async throws -> Bool {
        let prepared = Self.prepared(password)
        let target = hash ?? decoyHash
        let matches = try await threadPool.runIfActive { Bcrypt.verify(prepared, hash: target) }
        return matches && hash != nil
    }

    private static func prepared(_ password: String) -> String {
        Data(SHA256.hash(data: Data(password.utf8))).base64EncodedString()
    }
}
