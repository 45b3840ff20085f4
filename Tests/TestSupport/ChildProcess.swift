import Foundation
import Synchronization

/// A child process of the tests (`neosc`, SecantusDB, the OIDC provider mock, a checker script),
/// run without ever blocking a thread of Swift's cooperative pool: its output goes to files, not
/// to pipes that a blocking read must drain, and its exit is awaited with async sleeps. `stop()`
/// sends SIGTERM, waits, and sends SIGKILL once if it must. A child still running when the test
/// process exits (a crashed or interrupted run) is killed then.
public final class ChildProcess: @unchecked Sendable {
    public let name: String
    public let outputFile: URL
    public let errorFile: URL
    private let process = Process()

    /// What a child that ran to its end left behind.
    public struct Outcome: Sendable {
        public var status: Int32
        public var output: String
        public var errors: String
    }

    public struct Failed: Error, CustomStringConvertible {
        public var description: String
    }

    /// Starts `executable`; `input`, if given, is written to its standard input, which is then closed.
    public init(
        _ name: String, executable: URL, arguments: [String] = [], environment: [String: String]? = nil,
        input: String? = nil
    ) throws {
        self.name = name
        let stem = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8))").path
        outputFile = URL(fileURLWithPath: stem + ".out")
        errorFile = URL(fileURLWithPath: stem + ".err")
        for file in [outputFile, errorFile] { _ = FileManager.default.createFile(atPath: file.path, contents: nil) }
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardOutput = try FileHandle(forWritingTo: outputFile)
        process.standardError = try FileHandle(forWritingTo: errorFile)
        let stdin = input.map { _ in Pipe() }
        process.standardInput = stdin ?? FileHandle.nullDevice
        _ = Self.reaper
        // One spawn at a time: Foundation's `Process.run()` on Linux is not safe to call from
        // several threads at once (a run of the suite crashed in its argument copying when two
        // tests started children together).
        try Self.spawning.withLock { _ in try process.run() }
        Self.running.withLock { _ = $0.insert(process.processIdentifier) }
        if let stdin, let input {
            // A few bytes: they fit in the pipe's buffer, so this write returns at once.
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try stdin.fileHandleForWriting.close()
        }
    }

    private static let spawning = Mutex(())

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }
    public var output: String { (try? String(contentsOf: outputFile, encoding: .utf8)) ?? "" }
    public var errors: String { (try? String(contentsOf: errorFile, encoding: .utf8)) ?? "" }

    /// The exit status once the child has ended, or nil if it is still running after `seconds`.
    public func exitStatus(within seconds: Double) async throws -> Int32? {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1_000))
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        guard !process.isRunning else { return nil }
        Self.running.withLock { _ = $0.remove(process.processIdentifier) }
        return process.terminationStatus
    }

    /// Sends SIGTERM and returns at once.
    public func terminate() {
        if process.isRunning { process.terminate() }
    }

    /// SIGTERM, up to `grace` seconds to exit, then SIGKILL once; returns when the child is gone.
    public func stop(grace: Double = 10) async {
        guard process.isRunning else { return }
        process.terminate()
        if (try? await exitStatus(within: grace)) != nil { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        Self.running.withLock { _ = $0.remove(process.processIdentifier) }
    }

    /// Sends SIGKILL and returns at once (for clean-up in a `defer`, where nothing can be awaited).
    public func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
    }

    /// Removes the output files.
    public func removeFiles() {
        for file in [outputFile, errorFile] { try? FileManager.default.removeItem(at: file) }
    }

    /// Runs `executable` to its end (killing it if it takes longer than `timeout`) and returns
    /// its status and output.
    public static func run(
        _ name: String, executable: URL, arguments: [String] = [], environment: [String: String]? = nil,
        input: String? = nil, timeout: Double = 120
    ) async throws -> Outcome {
        let child = try ChildProcess(name, executable: executable, arguments: arguments, environment: environment, input: input)
        defer { child.removeFiles() }
        guard let status = try await child.exitStatus(within: timeout) else {
            await child.stop(grace: 1)
            throw Failed(description: "\(name) did not finish within \(timeout) s: \(child.errors)")
        }
        return Outcome(status: status, output: child.output, errors: child.errors)
    }

    private static let running = Mutex<Set<Int32>>([])
    private static let reaper: Void = {
        atexit {
            for pid in ChildProcess.running.withLock({ $0 }) { Glibc.kill(pid, SIGKILL) }
        }
    }()
}
