import Foundation
import Hummingbird
import Logging

/// `/novnc/…`: the noVNC client the stream viewer imports, served from where Debian's `novnc`
/// package installed it (`NEOSC_NOVNC_DIR`, by default `/usr/share/novnc`), never copied into
/// NeoSC. Registered only while streaming is on and the client is installed.
struct NoVNCFiles {
    static let defaultDirectory = "/usr/share/novnc"

    let directory: String

    /// Whether `directory` holds noVNC's RFB client.
    var isInstalled: Bool {
        FileManager.default.fileExists(atPath: directory + "/core/rfb.js")
    }

    func register(on router: Router<PortalRequestContext>, logger: Logger) {
        // The files answer what the group's one route does not: every path under /novnc/.
        let files = router.group("novnc").add(
            middleware: FileMiddleware(
                directory, urlBasePath: "/novnc", cacheControl: .init([(MediaType(type: .any), [.public, .maxAge(3_600)])]), logger: logger))
        files.get("**") { _, _ -> Response in throw HTTPError(.notFound) }
    }
}
