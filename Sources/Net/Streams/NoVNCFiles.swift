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
        // Only the client library (core/) and what it imports (vendor/): not noVNC's own pages
        // (vnc.html would show, on NeoSC's origin, a desktop and password prompt of a link's choosing).
        for folder in ["core", "vendor"] {
            let files = router.group(RouterPath("novnc/\(folder)")).add(
                middleware: FileMiddleware(
                    directory + "/" + folder, urlBasePath: "/novnc/\(folder)",
                    cacheControl: .init([(MediaType(type: .any), [.public, .maxAge(3_600)])]), logger: logger))
            // The files answer what the group's one route does not: every path under the folder.
            files.get("**") { _, _ -> Response in throw HTTPError(.notFound) }
        }
    }
}
