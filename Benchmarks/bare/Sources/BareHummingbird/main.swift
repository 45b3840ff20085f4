import Foundation
import Hummingbird

/// `{"ok":true}`, the body of NeoSC's `GET /bench/floor`, through Hummingbird's own encoder.
struct Floor: ResponseEncodable {
    var ok = true
}

/// At most this many bytes from `bench/bytes/{count}`.
let largestBody = 1 << 20
/// A body of `count` bytes, made once per size asked for: the framework's own cost of answering
/// with a body as large as one of NeoSC's (the workspace list's 64 KB, for the fixed-rate run).
let filler = ByteBuffer(repeating: UInt8(ascii: "x"), count: largestBody)

let router = Router()
router.get("bench/floor") { _, _ in Floor() }
router.get("api") { _, _ in Floor() }
router.get("bench/bytes/{count}") { _, context in
    let count = try context.parameters.require("count", as: Int.self)
    guard (0...largestBody).contains(count) else { throw HTTPError(.badRequest) }
    return Response(
        status: .ok, headers: [.contentType: "application/json"],
        body: .init(byteBuffer: filler.getSlice(at: 0, length: count)!))
}
let port = Int(ProcessInfo.processInfo.environment["PORT"] ?? "") ?? 8080
let application = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await application.runService()
