import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// An HTTP service on a loopback port standing in for the systems demo clean-up calls (a
/// provisioning webhook, NetBird, Zitadel): it records every request and answers with what the
/// test scripted, failing the first calls of a path when asked.
final class RecordingPeer: Sendable {
    struct Call: Sendable {
        var method: String
        var path: String
        var headers: [String: String]
        var body: Data
        var event: String? { headers["x-neosc-event"] }
    }

    private struct State {
        var calls: [Call] = []
        var port = 0
        /// Path prefix → how many more calls to answer with 500.
        var failures: [String: Int] = [:]
        var replies: [String: String] = [:]
        /// Path prefix → how long to wait before answering.
        var delays: [String: Duration] = [:]
    }

    private let state = Mutex(State())

    var url: String { "http://127.0.0.1:\(state.withLock { $0.port })" }
    var calls: [Call] { state.withLock { $0.calls } }

    /// The next `count` calls whose path and event match `key` (`POST /hook provision`) fail with 500.
    func fail(_ key: String, times count: Int) { state.withLock { $0.failures[key] = count } }

    /// Calls matching `key` are answered only after `delay`.
    func delay(_ key: String, by delay: Duration) { state.withLock { $0.delays[key] = delay } }

    /// What to answer (JSON) to calls matching `key`.
    func reply(_ key: String, with json: String) { state.withLock { $0.replies[key] = json } }

    private func answer(_ call: Call) async -> Response {
        let key = "\(call.method) \(call.path)" + (call.event.map { " \($0)" } ?? "")
        let (fails, json, delay) = state.withLock { state -> (Bool, String?, Duration?) in
            state.calls.append(call)
            let delay = state.delays.first { key.hasPrefix($0.key) }?.value
            let prefix = state.failures.keys.first { key.hasPrefix($0) }
            if let prefix, let left = state.failures[prefix], left > 0 {
                state.failures[prefix] = left - 1
                return (true, nil, delay)
            }
            return (false, state.replies.first { key.hasPrefix($0.key) }?.value, delay)
        }
        if let delay { try? await Task.sleep(for: delay) }
        if fails { return Response(status: .internalServerError) }
        return Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: json ?? "{}")))
    }

    /// Runs `body` while the peer listens.
    static func with(_ body: @Sendable (RecordingPeer) async throws -> Void) async throws {
        let peer = RecordingPeer()
        let router = Router()
        router.on("**", method: .post) { request, context in try await peer.record(request, context) }
        router.on("**", method: .delete) { request, context in try await peer.record(request, context) }
        router.on("**", method: .get) { request, context in try await peer.record(request, context) }
        try await LoopbackHTTPServer.serving(router, label: "recording-peer") { port in
            peer.state.withLock { $0.port = port }
            try await body(peer)
        }
    }

    private func record(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let buffer = try await request.body.collect(upTo: 1 << 20)
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        return await answer(
            Call(
                method: request.method.rawValue, path: request.uri.path, headers: headers,
                body: Data(buffer.readableBytesView)))
    }
}
