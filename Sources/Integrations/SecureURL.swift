import Foundation

/// Outbound URLs NeoSC will call: HTTPS, or plain HTTP to the loopback interface only (tests, a
/// provider on the same host).
public enum SecureURL {
    public static func isAcceptable(_ text: String) -> Bool {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased(),
            !host.isEmpty
        else { return false }
        if scheme == "https" { return true }
        return scheme == "http" && (host == "localhost" || host == "127.0.0.1" || host == "::1" || host == "[::1]")
    }
}
