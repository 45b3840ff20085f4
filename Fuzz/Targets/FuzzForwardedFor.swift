// Target `forwarded-for`: `TrustedProxies.clientAddress(peer:forwardedFor:)`, which walks
// `X-Forwarded-For` from the right to find the real client (rate limits, audit entries and the
// demo limits per address all use it).
//
// Input: "<trusted ranges, comma-separated>\n<peer>\n<X-Forwarded-For value>\n…"; the ranges are
// read as Configuration reads NEOSC_TRUSTED_PROXIES (entries that are not ranges left out), a
// peer that is empty is no peer, every value as swift-http-types delivers it (NUL, CR and LF made
// spaces; NEOSC_FUZZ_RAW=1 keeps them).
// Properties, for every input:
//   - no peer, no client; an untrusted peer is the client, whatever the headers say;
//   - the client is the peer or one of the hops, and every hop right of it is a trusted,
//     well-formed address, as is the peer;
//   - the walk stops only where it must: a client that is a trusted hop (or the trusted peer)
//     has no well-formed hop to its left;
//   - a hop that is the client is a well-formed address written only with address characters.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzForwardedFor(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let parts = UnsafeRawBufferPointer(start: start, count: count).split(
        separator: 0x0A, omittingEmptySubsequences: false)
    let ranges = environmentValue(parts[0]).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        .compactMap { AddressRange($0) }
    let proxies = TrustedProxies(ranges)
    let lines = parts.dropFirst().prefix(9).map { headerValue($0) }
    let peer = lines.first.flatMap { $0.isEmpty ? nil : $0 }
    let headers = Array(lines.dropFirst())

    let client = proxies.clientAddress(peer: peer, forwardedFor: headers)
    guard let peer else {
        require(client == nil, "no peer, yet client \(quoted(client ?? ""))")
        return 0
    }
    guard let client else {
        require(false, "peer \(quoted(peer)) but no client")
        return 0
    }
    guard proxies.isTrusted(peer) else {
        require(client == peer, "untrusted peer \(quoted(peer)), yet client \(quoted(client))")
        return 0
    }
    require(AddressRange.bytes(of: peer) != nil, "a trusted peer that is no address: \(quoted(peer))")

    // The hops as the header lists them, left to right, each trimmed.
    let hops = headers.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
    let wellFormed = { (hop: String) in AddressRange.bytes(of: hop) != nil }
    // Where the walk may have stopped: `hops.count` stands for the peer itself.
    let stops = ([hops.count] + hops.indices.reversed()).filter { index in
        (index == hops.count ? peer : hops[index]) == client
            && hops[(index == hops.count ? hops.count : index + 1)...].allSatisfy { wellFormed($0) && proxies.isTrusted($0) }
    }
    require(!stops.isEmpty, "client \(quoted(client)) is neither the peer nor a hop after trusted ones: \(hops.map(quoted))")
    if stops.allSatisfy({ $0 < hops.count }) {
        let addressCharacters = Set("0123456789abcdefABCDEF.:".utf8)
        require(
            client.utf8.allSatisfy(addressCharacters.contains),
            "client \(quoted(client)) is a hop with characters no address has")
    }
    if proxies.isTrusted(client) {
        // Trusted yet the client: nothing well-formed was left to its left.
        require(
            stops.contains { $0 == 0 || !wellFormed(hops[$0 - 1]) },
            "the walk stopped at trusted \(quoted(client)) too early: \(hops.map(quoted))")
    }
    return 0
}
