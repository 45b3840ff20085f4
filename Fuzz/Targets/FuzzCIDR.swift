// Target `cidr`: `AddressRange.init?(_:)` (NEOSC_TRUSTED_PROXIES, NEOSC_METRICS_ALLOW) and
// `contains(_:)`, `AddressRange.bytes(of:)` and `TrustedProxies.isTrusted(_:)`.
//
// Input: "<range>\n<address>\n<address>…": the range as an environment variable holds it (up to
// a NUL), each address as a header value (NUL, CR and LF made spaces); NEOSC_FUZZ_RAW=1 passes
// them on untouched (see FuzzSupport).
// Properties, for every input:
//   - `contains` and `isTrusted` never trap, whatever the range and address;
//   - an accepted range is written only with address characters (hex digits, `.`, `:`) and, after
//     one `/`, ASCII digits no more than the family's bits; its description is the text;
//   - a range contains its own network address, as written and as `inet_ntop` writes it back;
//   - `contains` agrees with a bit-by-bit reference over the address bytes: same family (an
//     IPv4-mapped IPv6 address counting as IPv4), first prefix-length bits equal;
//   - `/0` contains every address of its family; an address is in its own `/32` or `/128`.
import Foundation

#if canImport(Glibc)
import Glibc
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCIDR(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let lines = UnsafeRawBufferPointer(start: start, count: count).split(
        separator: 0x0A, omittingEmptySubsequences: false)
    // The range as NEOSC_TRUSTED_PROXIES holds it, the addresses as a header or a socket does.
    let rangeText = environmentValue(lines[0])
    let addresses = lines.dropFirst().prefix(8).map { headerValue($0) }
    let range = AddressRange(rangeText)
    for address in addresses {
        let inRange = range?.contains(address) ?? false
        let proxies = TrustedProxies(range.map { [$0] } ?? [])
        require(proxies.isTrusted(address) == inRange, "isTrusted and contains disagree on \(quoted(address))")
        if let bytes = AddressRange.bytes(of: address) {
            require(AddressRange(address)?.contains(address) == true, "\(quoted(address)) is not in its own range")
            let family = bytes.count == 4 ? "0.0.0.0/0" : "::/0"
            require(AddressRange(family)!.contains(address), "\(family) does not contain \(quoted(address))")
        }
    }
    guard let range else { return 0 }

    let parts = rangeText.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
    let addressCharacters = Set("0123456789abcdefABCDEF.:".utf8)
    require(
        parts[0].utf8.allSatisfy(addressCharacters.contains),
        "accepted \(quoted(rangeText)): its address has characters no address has")
    require(range.description == rangeText, "description \(quoted(range.description)) is not \(quoted(rangeText))")
    let network = AddressRange.bytes(of: String(parts[0]))!
    let bits: Int
    if parts.count == 2 {
        require(
            !parts[1].isEmpty && parts[1].utf8.allSatisfy { (0x30...0x39).contains($0) },
            "accepted \(quoted(rangeText)): its prefix length is not ASCII digits")
        bits = Int(parts[1])!
    } else {
        bits = network.count * 8
    }
    require((0...network.count * 8).contains(bits), "accepted \(quoted(rangeText)) with \(bits) bits")
    require(range.contains(String(parts[0])), "\(quoted(rangeText)) does not contain its own network address")
    let written = presentation(network)
    require(range.contains(written), "\(quoted(rangeText)) does not contain its network written back, \(written)")

    for address in addresses {
        let expected = AddressRange.bytes(of: address).map { referenceContains(network: network, bits: bits, $0) } ?? false
        require(
            range.contains(address) == expected,
            "\(quoted(rangeText)).contains(\(quoted(address))) is \(!expected), the bitwise reference says \(expected)")
    }
    return 0
}

/// Bit by bit, nothing shared with `AddressRange.contains`.
private func referenceContains(network: [UInt8], bits: Int, _ address: [UInt8]) -> Bool {
    guard network.count == address.count else { return false }
    for bit in 0..<bits {
        let mask = UInt8(0x80) >> UInt8(bit % 8)
        if network[bit / 8] & mask != address[bit / 8] & mask { return false }
    }
    return true
}

/// The address `inet_ntop` writes for these bytes.
private func presentation(_ bytes: [UInt8]) -> String {
    var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
    let family = bytes.count == 4 ? AF_INET : AF_INET6
    let written = bytes.withUnsafeBytes { raw in
        inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count))
    }
    precondition(written != nil, "inet_ntop failed")
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
