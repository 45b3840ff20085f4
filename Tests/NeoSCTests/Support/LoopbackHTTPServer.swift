import Hummingbird
import Logging
import NIOCore

/// Runs `router` on a loopback port chosen at run time while `body` runs, then stops it, also
/// when `body` throws. The test peers (key signer, recording webhook) are served this way.
enum LoopbackHTTPServer {
    static func serving(
        _ router: Router<BasicRequestContext>, label: String, _ body: @Sendable (_ port: Int) async throws -> Void
    ) async throws {
        var logger = Logger(label: label)
        logger.logLevel = .critical
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let application = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) }, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await application.runService(gracefulShutdownSignals: []) }
            var iterator = ports.makeAsyncIterator()
            let port = await iterator.next() ?? 0
            do {
                try await body(port)
            } catch {
                group.cancelAll()
                throw error
            }
            group.cancelAll()
        }
    }
}
