import Foundation
import Hummingbird

/// `{"ok":true}`, the body of NeoSC's `GET /bench/floor`, through Hummingbird's own encoder.
struct Floor: ResponseEncodable {
    var ok = true
}

let router = Router()
router.get("bench/floor") { _, _ in Floor() }
router.get("api") { _, _ in Floor() }
let port = Int(ProcessInfo.processInfo.environment["PORT"] ?? "") ?? 8080
let application = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await application.runService()
