import Foundation
import TestSupport

/// A real desktop to stream: Debian's Xvfb (a virtual X display) with x11vnc serving it over
/// RFB on a loopback port, as `scripts/test` installs them. Stopped by `stop()`.
final class TestDesktop: Sendable {
    let port: Int
    let display: Int
    private let xvfb: ChildProcess
    private let vnc: LoopbackProcess

    /// Starts a `width`×`height` display painted with a test pattern, and x11vnc on it.
    static func start(width: Int = 320, height: Int = 240) async throws -> TestDesktop {
        let xvfbPath = ProcessInfo.processInfo.environment["NEOSC_XVFB"] ?? "/usr/bin/Xvfb"
        let x11vncPath = ProcessInfo.processInfo.environment["NEOSC_X11VNC"] ?? "/usr/bin/x11vnc"
        for tool in [xvfbPath, x11vncPath] where !FileManager.default.isExecutableFile(atPath: tool) {
            throw LoopbackProcess.Missing(description: "\(tool) is not installed; run ./scripts/test (it installs xvfb and x11vnc)")
        }
        // -displayfd: Xvfb picks a free display itself and writes its number to standard output.
        let xvfb = try ChildProcess(
            "xvfb", executable: URL(fileURLWithPath: xvfbPath),
            arguments: ["-displayfd", "1", "-screen", "0", "\(width)x\(height)x24", "-nolisten", "tcp"])
        var display: Int?
        let deadline = ContinuousClock.now + .seconds(20)
        while display == nil, ContinuousClock.now < deadline {
            display = Int(xvfb.output.trimmingCharacters(in: .whitespacesAndNewlines))
            if display == nil {
                guard xvfb.isRunning else { throw LoopbackProcess.Missing(description: "Xvfb exited: \(xvfb.errors.suffix(1_000))") }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        guard let display else {
            await xvfb.stop(grace: 2)
            throw LoopbackProcess.Missing(description: "Xvfb did not report its display within 20 s")
        }
        let port = try FreePort.pick()
        // -noshm: x11vnc's System V shared-memory segments outlive it when it is stopped, and once the
        // host's 4,096 are used up every later x11vnc exits at start ("shmget: No space left on device"),
        // which is how CI failed. Plain X requests are fast enough for a 320×240 test desktop.
        let vnc = LoopbackProcess(
            name: "x11vnc", executable: URL(fileURLWithPath: x11vncPath),
            arguments: [
                "-display", ":\(display)", "-rfbport", "\(port)", "-localhost", "-nopw", "-forever", "-shared",
                "-noshm", "-noxdamage", "-nossl", "-noipv6",
            ], port: port)
        do {
            try await vnc.start()
        } catch {
            await xvfb.stop(grace: 2)
            throw error
        }
        return TestDesktop(port: port, display: display, xvfb: xvfb, vnc: vnc)
    }

    private init(port: Int, display: Int, xvfb: ChildProcess, vnc: LoopbackProcess) {
        self.port = port
        self.display = display
        self.xvfb = xvfb
        self.vnc = vnc
    }

    /// websockify (Debian's, which novnc brings) started in front of the desktop on a port of its
    /// own: a WebSocket upstream speaking RFB in binary frames, as KasmVNC does; behind TLS with
    /// `certificate`. Stopped by its own `stop()`.
    func websockify(certificate: SelfSignedCertificate? = nil) async throws -> LoopbackProcess {
        let port = try FreePort.pick()
        let tls = certificate.map { ["--ssl-only", "--cert", $0.certificate, "--key", $0.key] } ?? []
        let front = LoopbackProcess(
            name: "websockify",
            executable: URL(fileURLWithPath: ProcessInfo.processInfo.environment["NEOSC_WEBSOCKIFY"] ?? "/usr/bin/websockify"),
            arguments: tls + ["127.0.0.1:\(port)", "127.0.0.1:\(self.port)"], port: port)
        try await front.start()
        return front
    }

    /// A desktop with websockify in front of it (behind TLS with `certificate`) for `body`, which
    /// is given websockify's port; both are stopped once `body` is done, whether it threw or not.
    static func withWebSocketFront<T>(
        certificate: SelfSignedCertificate? = nil, _ body: (_ port: Int) async throws -> T
    ) async throws -> T {
        let desktop = try await start()
        let front: LoopbackProcess
        do {
            front = try await desktop.websockify(certificate: certificate)
        } catch {
            await desktop.stop()
            throw error
        }
        do {
            let result = try await body(front.port)
            await front.stop()
            await desktop.stop()
            return result
        } catch {
            await front.stop()
            await desktop.stop()
            throw error
        }
    }

    func stop() async {
        await vnc.stop()
        await xvfb.stop(grace: 2)
        xvfb.removeFiles()
    }
}
