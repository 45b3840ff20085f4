import Foundation
import Synchronization
import TestSupport

/// A test peer run as a child process (SecantusDB, the OIDC provider mock) that listens on a
/// loopback port from the range the tests own (`FreePort`). Stopped by `stop()`; killed at exit
/// if a crashed run left it behind.
final class LoopbackProcess: Sendable {
    let name: String
    let executable: URL
    let arguments: [String]
    let port: Int
    private let child = Mutex<ChildProcess?>(nil)

    init(name: String, executable: URL, arguments: [String], port: Int) {
        self.name = name
        self.executable = executable
        self.arguments = arguments
        self.port = port
    }

    /// A tool installed by `scripts/test`: `environment` names its path, else it is in the
    /// package's `.venv/bin`.
    static func installed(_ tool: String, environment: String) -> URL {
        if let path = ProcessInfo.processInfo.environment[environment] { return URL(fileURLWithPath: path) }
        return packageRoot.appendingPathComponent(".venv/bin/\(tool)")
    }

    /// The folder holding Package.swift, found upwards from this file.
    static let packageRoot: URL = {
        var folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while folder.path != "/" && !FileManager.default.fileExists(atPath: folder.appendingPathComponent("Package.swift").path) {
            folder.deleteLastPathComponent()
        }
        return folder
    }()

    /// Starts the process and waits (up to 30 s) until it accepts connections; fails at once,
    /// with what it printed, if it exits first.
    func start() async throws {
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw Missing(description: "\(name) is not installed at \(executable.path); run ./scripts/test")
        }
        let started = try ChildProcess(name, executable: executable, arguments: arguments)
        child.withLock { $0 = started }
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if FreePort.isListening(port) { return }
            guard started.isRunning else {
                let errors = started.errors
                await stop()
                throw Missing(description: "\(name) exited before listening on port \(port): \(errors.suffix(2_000))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        await stop()
        throw Missing(description: "\(name) did not start listening on port \(port) within 30 s")
    }

    /// Stops the process (SIGTERM, then SIGKILL after 5 s) and waits for it to exit.
    func stop() async {
        guard let running = child.withLock({ $0 }) else { return }
        await running.stop(grace: 5)
        running.removeFiles()
        child.withLock { if $0 === running { $0 = nil } }
    }

    /// Kills the process without waiting (for a `defer`).
    func kill() {
        child.withLock { $0?.kill() }
    }

    struct Missing: Error, CustomStringConvertible {
        var description: String
    }
}
