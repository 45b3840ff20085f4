import Actors
import Domain
import Foundation
import Logging
import NIOPosix
import Net
import SQLiteStore
import Services

/// 100,000 armed deadlines in NeoSC's `ExpiryScheduler`: the memory they take, the time to arm
/// them, how late they fire, and — after a restart — how long until 100,000 persisted deadlines
/// (50,000 active sessions, each with a lifetime and an idle deadline) are armed again.
/// Run: `swift run -c release ExpiryBenchmark` in Benchmarks/micro (see docs/benchmarks.md).
@main
enum ExpiryBenchmark {
    static let count = 100_000

    static func main() async throws {
        try await armAndFire()
        try await restart()
    }

    /// Resident memory in bytes, from /proc/self/statm.
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
            let pages = text.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }

    static func armAndFire() async throws {
        let scheduler = ExpiryScheduler()
        let (fired, continuation) = AsyncStream.makeStream(of: DeadlineKey.self, bufferingPolicy: .unbounded)
        let loop = Task { await scheduler.run(firing: continuation) }

        // Due uniformly over 10 s, starting 5 s from now (arming must be over before the first).
        let start = Date().addingTimeInterval(5)
        let deadlines = (0..<count).map { index in
            (DeadlineKey.sessionIdle(sessionID: "ses-\(index)"), start.addingTimeInterval(Double(index % 10_000) / 1_000))
        }
        var due: [DeadlineKey: Date] = [:]
        due.reserveCapacity(count)
        for (key, date) in deadlines { due[key] = date }
        let before = residentBytes()
        let clock = ContinuousClock()
        let armStart = clock.now
        for (key, date) in deadlines { await scheduler.arm(key, at: date) }
        let armTime = clock.now - armStart
        let after = residentBytes()
        print(
            "armed \(count) deadlines one by one in \(armTime); resident memory +\((after - before) / 1_048_576) MiB "
                + "(\((after - before) / count) bytes per deadline, this benchmark's own bookkeeping excluded)")

        var lateness: [Double] = []
        lateness.reserveCapacity(count)
        for await key in fired {
            lateness.append(Date().timeIntervalSince(due[key]!) * 1_000)
            if lateness.count == count { break }
        }
        loop.cancel()
        lateness.sort()
        print(
            String(
                format: "lateness over %d deadlines due within 10 s: p50 %.2f ms, p99 %.2f ms, max %.2f ms",
                count, percentile(lateness, 0.5), percentile(lateness, 0.99), lateness.last!))
    }

    static func restart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("neosc-expiry-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("neosc.sqlite").path
        var logger = Logger(label: "bench")
        logger.logLevel = .error

        let seeding = try await SQLiteStore.open(path: path, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger)
        let now = Date()
        let seedClock = ContinuousClock()
        let seedStart = seedClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for index in stride(from: worker, to: count / 2, by: 8) {
                        try await seeding.start(
                            WorkspaceSession(
                                id: "ses-\(index)", userID: "usr-\(index)", userEmail: "u\(index)@example.com",
                                workspaceID: "ws-linux-desktop", workspaceName: "Linux", status: .active, startedAt: now,
                                expiresAt: now + 3_600, lastSeenAt: now, ipAddress: "192.0.2.1", mfaVerified: false),
                            limit: 10)
                    }
                }
            }
            try await group.waitForAll()
        }
        print("seeded \(count / 2) active sessions (\(count) persisted deadlines) in \(seedClock.now - seedStart)")
        try await seeding.close()

        // The restart: open the store, build the portal as `neosc serve` does, re-arm everything.
        let clock = ContinuousClock()
        let started = clock.now
        let store = try await SQLiteStore.open(path: path, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger)
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let portal = Portal(
            store: store, tokenCache: TokenCache(), sessions: SessionRegistry(maxAge: 5),
            accountThrottle: AttemptThrottle(limit: 10), addressThrottle: AttemptThrottle(limit: 100),
            registrationThrottle: AttemptThrottle(limit: 20), passwords: PasswordHasher(cost: 10, threadPool: pool),
            clock: .system, settings: PortalSettings(version: "bench"), logger: logger)
        let armed = try await portal.lifetimes.armPersistedDeadlines()
        let elapsed = clock.now - started
        print(
            "restart: \(armed) persisted deadlines re-armed \(elapsed) after opening the store "
                + "(scheduler holds \(await portal.lifetimes.scheduler.count))")
        try await store.close()
        try await pool.shutdownGracefully()
    }
}
