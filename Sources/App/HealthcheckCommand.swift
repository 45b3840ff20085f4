import ArgumentParser
import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `neosc healthcheck`: asks the local server's `/health`; exit 0 when healthy, 1 otherwise.
/// For container health checks (`HEALTHCHECK CMD neosc healthcheck`).
struct HealthcheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "healthcheck", abstract: "Exit 0 when the local NeoSC answers /health as healthy, else 1.")

    @Option(help: "The health URL (default: http://127.0.0.1:$PORT/health).")
    var url: String?

    @Option(help: "Seconds to wait for the answer.")
    var timeout: Double = 3

    func run() async throws {
        let port = ProcessInfo.processInfo.environment["PORT"].flatMap(Int.init) ?? 8001
        guard let target = URL(string: url ?? "http://127.0.0.1:\(port)/health") else {
            throw ValidationError("--url must be a URL")
        }
        var request = URLRequest(url: target)
        request.timeoutInterval = timeout
        do {
            let (data, response) = try await URLSession.shared.data(for: request)
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            let body = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
            guard status == 200, body?["status"] as? String == "healthy" else {
                print("unhealthy: HTTP \(status)")
                throw ExitCode(1)
            }
            print("healthy")
        } catch let exit as ExitCode {
            throw exit
        } catch {
            print("unhealthy: \(error.localizedDescription)")
            throw ExitCode(1)
        }
    }
}
