import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A raw TCP connection to a loopback port, from a loopback source address of the test's choosing
/// (all of 127.0.0.0/8 is this machine), for what an HTTP client library will not do: hold a
/// connection idle, write a request a byte at a time, notice the server closing it. Nothing
/// blocks (connects and waits poll, between async sleeps): a waiting test holds no thread of the
/// shared pool.
final class LoopbackSocket {
    private let descriptor: Int32
    private var received: [UInt8] = []

    /// Connects to `127.0.0.1:port` from `source`; throws if the connection cannot be made within
    /// 10 s. The connect does not block: a full listen backlog costs a retransmission of a second
    /// or more, spent here in async sleeps rather than holding a thread of the shared pool.
    init(port: Int, from source: String = "127.0.0.1") async throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw Failure.system("socket", errno) }
        do {
            var local = try Self.address(source, port: 0)
            var remote = try Self.address("127.0.0.1", port: port)
            try withUnsafePointer(to: &local) { pointer in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                    guard bind(descriptor, address, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 else {
                        throw Failure.system("bind", errno)
                    }
                }
            }
            guard fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK) == 0 else {
                throw Failure.system("fcntl", errno)
            }
            let started = withUnsafePointer(to: &remote) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                    connect(descriptor, address, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 ? 0 : errno
                }
            }
            if started != 0 {
                guard started == EINPROGRESS else { throw Failure.system("connect", started) }
                // A SYN dropped by a full backlog is sent again after 1, 3, 7, 15 s.
                try await waitUntilConnected(within: .seconds(30))
            }
        } catch {
            Glibc.close(descriptor)
            throw error
        }
    }

    private func waitUntilConnected(within limit: Duration) async throws {
        let deadline = ContinuousClock.now + limit
        while true {
            var poller = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
            if poll(&poller, 1, 0) > 0 {
                var failure: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &failure, &length)
                guard failure == 0 else { throw Failure.system("connect", failure) }
                return
            }
            guard ContinuousClock.now < deadline else { throw Failure.system("connect", ETIMEDOUT) }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    deinit {
        Glibc.close(descriptor)
    }

    /// Writes `text`; false if the server has already closed the connection.
    @discardableResult
    func send(_ text: String) -> Bool {
        send(bytes: Array(text.utf8))
    }

    @discardableResult
    func send(bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { buffer in
            Glibc.send(descriptor, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL)) == buffer.count
        }
    }

    /// Whether the server closes the connection within `limit` (bytes it sends meanwhile are kept
    /// for `response`).
    func isClosedByPeer(within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        repeat {
            switch readAvailable() {
            case .closed: return true
            case .open: try? await Task.sleep(for: .milliseconds(20))
            }
        } while ContinuousClock.now < deadline
        return false
    }

    /// The status code of the next response, once its head has arrived within `limit`; nil if
    /// none arrives (or the connection closes first). The body is read and dropped when a
    /// `Content-Length` gives its size.
    func responseStatus(within limit: Duration) async -> Int? {
        let deadline = ContinuousClock.now + limit
        repeat {
            let state = readAvailable()
            if let status = takeResponse() { return status }
            if state == .closed { return nil }
            try? await Task.sleep(for: .milliseconds(10))
        } while ContinuousClock.now < deadline
        return nil
    }

    /// Everything read until `enough` says so, the server closes, or `limit` passes.
    func read(within limit: Duration, until enough: ([UInt8]) -> Bool) async -> [UInt8] {
        let deadline = ContinuousClock.now + limit
        repeat {
            let state = readAvailable()
            if enough(received) || state == .closed { break }
            try? await Task.sleep(for: .milliseconds(5))
        } while ContinuousClock.now < deadline
        return received
    }

    /// Whether the server listening on `port` has taken this connection and read everything sent
    /// on it: the server's end, in `/proc/net/tcp`, is established with nothing left in its
    /// receive queue (a connection the server has not accepted yet holds what was sent there).
    func isReadByServer(port: Int) -> Bool {
        var local = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &local) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) == 0 }
        }
        // Read to its end: Foundation's String(contentsOfFile:) stops after the first page of a
        // /proc file.
        guard named, let file = FileHandle(forReadingAtPath: "/proc/net/tcp") else { return false }
        defer { try? file.close() }
        let table = String(decoding: file.readDataToEndOfFile(), as: UTF8.self)
        // The kernel prints an IPv4 address as its 32 bits in memory order, a port as a number.
        let me = String(format: "%08X:%04X", local.sin_addr.s_addr, UInt16(bigEndian: local.sin_port))
        let server = String(format: ":%04lX", port)
        return table.split(separator: "\n").dropFirst().contains { line in
            let fields = line.split(separator: " ")
            guard fields.count > 4, fields[1].hasSuffix(server), fields[2] == me, fields[3] == "01" else { return false }
            return fields[4].split(separator: ":").last.map { Int($0, radix: 16) == 0 } ?? false
        }
    }

    /// An HTTP/1.1 request with no body, keeping the connection open.
    static func request(_ path: String) -> String {
        "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    }

    private enum State { case open, closed }

    private func readAvailable() -> State {
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count > 0 {
                received += buffer[..<count]
                continue
            }
            if count == 0 { return .closed }
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? .open : .closed
        }
    }

    private func takeResponse() -> Int? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = received.indices.dropLast(3).first(where: { Array(received[$0..<$0 + 4]) == separator })
        else { return nil }
        let head = String(decoding: received[..<end], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        let length =
            lines.dropFirst().first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        guard received.count >= end + 4 + length else { return nil }
        received.removeFirst(end + 4 + length)
        return lines.first.flatMap { Int($0.split(separator: " ")[1]) }
    }

    private static func address(_ text: String, port: Int) throws -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, text, &address.sin_addr) == 1 else { throw Failure.address(text) }
        return address
    }

    enum Failure: Error, CustomStringConvertible {
        case system(String, Int32)
        case address(String)

        var description: String {
            switch self {
            case .system(let call, let code): "\(call) failed: \(String(cString: strerror(code)))"
            case .address(let text): "not an IPv4 address: \(text)"
            }
        }
    }

    /// Raises this process's soft limit on open descriptors to its hard limit (a test holding
    /// thousands of connections needs it); returns the limit then in force.
    static func raiseOpenFileLimit() -> Int {
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        return Int(clamping: limit.rlim_cur)
    }
}
