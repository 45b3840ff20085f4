import Foundation
import Synchronization

/// A test peer run as a child process (SecantusDB, the OIDC provider mock) that listens on a
/// loopback port chosen at run time. Stopped by `stop()`, and killed at exit if a crashed run
/// left it behind.
final class LoopbackProcess: @unchecked Sendable {
    let name: String
    let executable: URL
    let arguments: [String]
    let port: Int
    private var process: Process?

    init(name: String, executable: URL, arguments: [String], port: Int) {
        self.name = name
        self.executable = executable
        self.arguments = arguments
        self.port = port
    }

    /// A tool installed by `scripts/test`: `environment` names its path, else it is in `.venv/bin`.
    static func installed(_ tool: String, environment: String) -> URL {
        if let path = ProcessInfo.processInfo.environment[environment] { return URL(fileURLWithPath: path) }
        // Tests/NeoSCTests/<file> → package root → .venv (made by scripts/test).
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".venv/bin/\(tool)")
    }

    /// Starts the process and waits (up to 15 s) until it accepts connections.
    func start() async throws {
        _ = Self.reaper
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw Missing(description: "\(name) is not installed at \(executable.path); run ./scripts/test")
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        Self.started.withLock { _ = $0.insert(process.processIdentifier) }
        for _ in 0..<150 {
            if FreePort.isListening(port) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        stop()
        throw Missing(description: "\(name) did not start listening on port \(port)")
    }

    /// Stops the process (SIGTERM, then SIGKILL after 5 s) and waits for it to exit.
    func stop() {
        guard let process, process.isRunning else { return }
        process.terminate()
        let deadline = Date(timeIntervalSinceNow: 5)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        Self.started.withLock { _ = $0.remove(process.processIdentifier) }
    }

    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    private static let started = Mutex<Set<Int32>>([])
    private static let reaper: Void = {
        atexit {
            for pid in LoopbackProcess.started.withLock({ $0 }) { kill(pid, SIGKILL) }
        }
    }()
}
