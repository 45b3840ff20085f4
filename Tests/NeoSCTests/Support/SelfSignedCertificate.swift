import Foundation
import TestSupport

/// A P-256 certificate and key made by `openssl` into `directory`, for one day, trusted by nobody.
struct SelfSignedCertificate {
    let certificate: String
    let key: String

    /// `subjectAltName` names what it is for: `"DNS:localhost,IP:127.0.0.1"`.
    static func make(in directory: URL, commonName: String, subjectAltName: String) async throws -> SelfSignedCertificate {
        let made = SelfSignedCertificate(
            certificate: directory.appendingPathComponent("\(commonName)-cert.pem").path,
            key: directory.appendingPathComponent("\(commonName)-key.pem").path)
        let outcome = try await ChildProcess.run(
            "openssl", executable: URL(fileURLWithPath: "/usr/bin/openssl"),
            arguments: [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                "-subj", "/CN=\(commonName)", "-addext", "subjectAltName=\(subjectAltName)", "-keyout", made.key, "-out",
                made.certificate,
            ])
        guard outcome.status == 0 else { throw LoopbackProcess.Missing(description: "openssl failed: \(outcome.errors)") }
        return made
    }
}
