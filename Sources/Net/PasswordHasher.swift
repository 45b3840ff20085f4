import Crypto
import Domain
import Foundation
import HummingbirdBcrypt
import NIOPosix
import Services
import Synchronization

/// bcrypt on its own thread pool, so hashing never blocks an event loop and a burst of logins
/// cannot starve the store's threads. The password is first reduced to base64(SHA-256), so bcrypt's
/// 72-byte truncation and NUL bytes cannot make two different passwords equal.
///
/// The work waiting for those threads is bounded: past `maxQueued` hashes in flight, a new one is
/// refused at once (503) rather than letting every sign-in's latency grow without bound.
public struct PasswordHasher: PasswordHashing {
    /// The least cost an operator may configure (`NEOSC_BCRYPT_COST`).
    public static let minimumCost: UInt8 = 10
    private let cost: UInt8
    private let threadPool: NIOThreadPool
    private let maxQueued: Int
    private let inFlight: Counter

    /// Hashes under way or waiting, shared by every copy of the hasher.
    private final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }
    /// Verified against when an account does not exist, so that case costs the same time.
    private let decoyHash: String

    /// `cost` is bcrypt's own range, 4 to 31: the configuration keeps deployments at
    /// `minimumCost` or more, and only tests that are not about the cost go lower.
    public init(cost: UInt8, threadPool: NIOThreadPool, maxQueued: Int = 64) {
        precondition(cost >= 4 && cost <= 31, "bcrypt cost must be 4 to 31")
        precondition(maxQueued > 0)
        self.cost = cost
        self.threadPool = threadPool
        self.maxQueued = maxQueued
        self.inFlight = Counter()
        self.decoyHash = Bcrypt.hash(Self.prepared("decoy password \(UUID())"), cost: cost)
    }

    /// Stops the hashing threads once the hashes under way are done.
    public func shutdown() async throws {
        try await threadPool.shutdownGracefully()
    }

    public func hash(_ password: String) async throws -> String {
        let prepared = Self.prepared(password)
        let cost = self.cost
        return try await bounded { try await threadPool.runIfActive { Bcrypt.hash(prepared, cost: cost) } }
    }

    /// Whether `password` matches `hash`; with no hash, spends the same time and answers false.
    public func verify(_ password: String, against hash: String?) async throws -> Bool {
        let prepared = Self.prepared(password)
        let target = hash ?? decoyHash
        let matches = try await bounded { try await threadPool.runIfActive { Bcrypt.verify(prepared, hash: target) } }
        return matches && hash != nil
    }

    /// Runs `work` unless `maxQueued` hashes are already in flight.
    private func bounded<T>(_ work: () async throws -> T) async throws -> T {
        let queued = inFlight.value.wrappingAdd(1, ordering: .relaxed).newValue
        defer { inFlight.value.wrappingSubtract(1, ordering: .relaxed) }
        guard queued <= maxQueued else {
            throw DomainError.unavailable("NeoSC is busy checking passwords; try again in a moment")
        }
        return try await work()
    }

    private static func prepared(_ password: String) -> String {
        Data(SHA256.hash(data: Data(password.utf8))).base64EncodedString()
    }
}
