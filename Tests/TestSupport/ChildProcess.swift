import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A child process of the tests (`neosc`, SecantusDB, the OIDC provider mock, a checker script),
/// run without ever blocking a thread of Swift's cooperative pool: its output goes to files, not
/// to pipes that a blocking read must drain, and its exit is awaited with async sleeps. `stop()`
/// sends SIGTERM, waits, and sends SIGKILL once if it must. A child still running when the test
/// process exits (a crashed or interrupted run) is killed then.
///
/// Spawned with `posix_spawn` rather than Foundation's `Process`: on Linux, `Process.run()`
/// over-reads a `dirent` while it lists `/proc/self/fd` and crashes the test process about once
/// in twenty busy runs (swift-corelibs-foundation PR 5472, not in this toolchain).
public final class ChildProcess: Sendable {
    public let name: String
    public let outputFile: URL
    public let errorFile: URL
    public let pid: Int32
    /// The exit status once the child has been reaped.
    private let reaped = Mutex<Int32?>(nil)

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
        Self.removeAtExit(outputFile)
        Self.removeAtExit(errorFile)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var inputPipe: [Int32] = [-1, -1]
        if input != nil {
            guard pipe(&inputPipe) == 0 else { throw Failed(description: "\(name): pipe failed (errno \(errno))") }
            posix_spawn_file_actions_adddup2(&actions, inputPipe[0], 0)
            posix_spawn_file_actions_addclose(&actions, inputPipe[0])
            posix_spawn_file_actions_addclose(&actions, inputPipe[1])
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 1, outputFile.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errorFile.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // Nothing else of the test process (its listening sockets, the store's files) leaks into the child.
        _ = Self.addCloseFrom?(&actions, 3)

        let environment = environment ?? ProcessInfo.processInfo.environment
        let argv = ([executable.path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable.path, &actions, nil, argv, envp)
        if input != nil { close(inputPipe[0]) }
        guard spawned == 0 else {
            if input != nil { close(inputPipe[1]) }
            throw Failed(description: "\(name): could not start \(executable.path) (error \(spawned))")
        }
        self.pid = pid
        Self.running.withLock { _ = $0.insert(pid) }
        if let input {
            // A few bytes: they fit in the pipe's buffer, so this write returns at once.
            let bytes = Array(input.utf8)
            _ = bytes.withUnsafeBytes { write(inputPipe[1], $0.baseAddress, $0.count) }
            close(inputPipe[1])
        }
    }

    /// Whether the child is still running (reaping it, without waiting, if it has ended).
    public var isRunning: Bool { status == nil }

    /// The exit status once the child has ended: its exit code, or the signal that ended it.
    private var status: Int32? {
        reaped.withLock { reaped in
            if let reaped { return reaped }
            // Reaped and forgotten at once: the exit's clean-up must not signal a pid that
            // another process may have been given since.
            var raw: Int32 = 0
            let ended = ChildProcess.running.withLock { running in
                guard waitpid(pid, &raw, WNOHANG) == pid else { return false }
                running.remove(pid)
                return true
            }
            guard ended else { return nil }
            let signal = raw & 0x7F
            reaped = signal == 0 ? (raw >> 8) & 0xFF : signal
            return reaped
        }
    }

    public var output: String { (try? String(contentsOf: outputFile, encoding: .utf8)) ?? "" }
    public var errors: String { (try? String(contentsOf: errorFile, encoding: .utf8)) ?? "" }

    /// The exit status once the child has ended, or nil if it is still running after `seconds`.
    public func exitStatus(within seconds: Double) async throws -> Int32? {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1_000))
        while isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        return status
    }

    /// Sends SIGTERM and returns at once.
    public func terminate() {
        if isRunning { Glibc.kill(pid, SIGTERM) }
    }

    /// SIGTERM, up to `grace` seconds to exit, then SIGKILL once; returns when the child is gone.
    public func stop(grace: Double = 10) async {
        guard isRunning else { return }
        Glibc.kill(pid, SIGTERM)
        if (try? await exitStatus(within: grace)) != nil { return }
        Glibc.kill(pid, SIGKILL)
        while isRunning { try? await Task.sleep(for: .milliseconds(20)) }
    }

    /// Sends SIGKILL and returns at once (for clean-up in a `defer`, where nothing can be awaited).
    public func kill() {
        if isRunning { Glibc.kill(pid, SIGKILL) }
    }

    /// Removes the output files.
    public func removeFiles() {
        for file in [outputFile, errorFile] { try? FileManager.default.removeItem(at: file) }
        Self.leftBehind.withLock { $0.removeAll { $0 == outputFile || $0 == errorFile } }
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

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which Swift's Glibc
    /// module does not declare; looked up once.
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
            return nil
        }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    /// Removes `item` (a child's storage folder) when the test process exits, if nothing has
    /// removed it before: the children a run shares live until then.
    public static func removeAtExit(_ item: URL) {
        _ = reaper
        leftBehind.withLock { $0.append(item) }
    }

    private static let running = Mutex<Set<Int32>>([])
    /// What is removed at exit: the output files of every child, the folders given to `removeAtExit`.
    private static let leftBehind = Mutex<[URL]>([])
    private static let reaper: Void = {
        atexit {
            // Signalled under the lock a reap takes: none of them has been reaped.
            let children = ChildProcess.running.withLock { running in
                for pid in running { Glibc.kill(pid, SIGKILL) }
                return running
            }
            // Gone before their files are: a child still writing could leave a file behind.
            for pid in children { _ = waitpid(pid, nil, 0) }
            for item in ChildProcess.leftBehind.withLock({ $0 }) { try? FileManager.default.removeItem(at: item) }
        }
    }()
}
