import Foundation
import Synchronization

/// Loopback ports for the tests.
///
/// NeoSC and the in-process peers bind port 0 and report what they got. The peers that must be
/// told their port before they start (SecantusDB, the OIDC provider mock, a database NeoSC is
/// pointed at before it runs) get one from a range this test process owns: below the kernel's
/// ephemeral range, so neither a `bind(0)` nor an outgoing connection's source port can take it
/// between the pick and the child's bind; handed out once each per run, from a random start, so
/// neither another test nor the previous run's lingering sockets hold it.
public enum FreePort {
    /// Ports below the ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range` starts at 32768
    /// on Linux by default); 1024 and up, so no privilege is needed.
    public static let owned: Range<Int> = {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        let ephemeralStart = text.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32_768
        let upper = min(ephemeralStart, 32_768)
        return max(1_024, upper - 12_000)..<upper
    }()

    private static let cursor = Mutex(Int.random(in: 0..<owned.count))

    /// A port from the owned range that nothing is bound to now.
    public static func pick() throws -> Int {
        for _ in 0..<owned.count {
            let port =
                owned.lowerBound + cursor.withLock {
                    $0 += 1
                    return $0
                } % owned.count
            if canBind(port) { return port }
        }
        throw POSIXError(.EADDRINUSE)
    }

    /// Whether something accepts TCP connections on the loopback port.
    public static func isListening(_ port: Int) -> Bool {
        withSocket(port) { socket, address in connect(socket, address, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }

    private static func canBind(_ port: Int) -> Bool {
        withSocket(port) { socket, address in bind(socket, address, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }

    private static func withSocket(_ port: Int, _ body: (Int32, UnsafePointer<sockaddr>) -> Bool) -> Bool {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { return false }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body(socket, $0) } }
    }
}
