// Target `cookie`: the SSO state cookie. `GET /api/auth/oidc/callback` reads
// `request.cookies[name]?.value ?? ""` with Hummingbird's cookie parser (the name
// `__Host-neosc_oidc_state` over https, on `Path=/`; else `neosc_oidc_state` on `/api/auth/oidc`) and
// completes the sign-in only when the `state` query parameter is non-empty and
// `ConstantTime.equal(state, cookie)`; `GET /api/auth/oidc/start` sets the cookie. Hummingbird's
// parser is compiled here from its sources (the version the server resolves), so it is fuzzed
// with coverage, with `Request` reduced to its Cookie headers (Shims/CookieRequest.swift).
//
// Input: "<state>\0<Cookie header>\0<Cookie header>…", each as swift-http-types delivers it.
// Properties, for every input:
//   - parsing never traps; a cookie found under a name has that name; the state cookie's value
//     is what a written-out reference reads (the first `<name>=` part wins; the value
//     after the `=`, Hummingbird's two quirks included: see `referenceValue`);
//   - `ConstantTime.equal` is byte equality; the callback's check passes exactly when the state
//     is non-empty and equal to the cookie's value;
//   - the cookie `start` sets (state = base64url of 32 bytes from the input) reads back from its
//     own Set-Cookie text with its name, value, Max-Age 600, Path, HttpOnly, SameSite=Lax and
//     Secure as set; the clearing cookie is `<name>=` with Max-Age=0 and the Path;
//   - a browser echoing it, first or after other cookies (not of the same name), gives the state
//     back, whatever other cookies follow.
import Foundation

/// `SSORoutes.StateCookie`'s name and path; scripts/fuzz checks SSORoutes.swift still says so.
func stateCookie(secure: Bool) -> (name: String, path: String) {
    (secure ? "__Host-neosc_oidc_state" : "neosc_oidc_state", secure ? "/" : "/api/auth/oidc")
}

/// What `SSORoutes.callback` reads from the request, and whether it accepts `state` with it.
func callbackAccepts(state: String, request: Request, name stateCookie: String) -> (cookie: String, accepted: Bool) {
    let cookie = request.cookies[stateCookie]?.value ?? ""
    return (cookie, !state.isEmpty && ConstantTime.equal(state, cookie))
}

/// What `Cookies[name]?.value` is, written out: the first `;`-separated part of any header (leading
/// blanks skipped) whose text before its first `=` is `name`; its value is the rest after that
/// `=`, but Hummingbird also skips any further `=` at its start (`name==v` reads as `v`,
/// Crashes/cookie-value-leading-equals.bin) and takes an empty value as no cookie at all.
func referenceValue(_ name: String, in headers: [String]) -> String? {
    for header in headers {
        for part in header.split(separator: ";") {
            let segment = part.drop { $0.isWhitespace }
            guard let equals = segment.firstIndex(of: "="), segment[..<equals] == name else { continue }
            let value = segment[segment.index(after: equals)...].drop { $0 == "=" }
            return value.isEmpty ? nil : String(value)
        }
    }
    return nil
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCookie(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    var input = FuzzInput(start, count)
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    let secure = (bytes.first ?? 0) & 1 == 1
    let (stateCookie, path) = stateCookie(secure: secure)
    let state = headerValue(input.field())
    var headers: [String] = []
    while !input.isEmpty && headers.count < 8 { headers.append(headerValue(input.field())) }

    let request = Request(cookieHeaders: headers)
    let (cookie, accepted) = callbackAccepts(state: state, request: request, name: stateCookie)
    let found = request.cookies[stateCookie]
    require(found == nil || found?.name == stateCookie, "looked up \(stateCookie), found \(quoted(found?.name ?? ""))")
    let expected = referenceValue(stateCookie, in: headers)
    require(
        found?.value == expected,
        "\(stateCookie) is \(quoted(found?.value ?? "nil")), the reference reads \(quoted(expected ?? "nil")) in \(headers.map(quoted))")
    require(
        ConstantTime.equal(state, cookie) == state.utf8.elementsEqual(cookie.utf8),
        "ConstantTime.equal(\(quoted(state)), \(quoted(cookie))) is not byte equality")
    require(accepted == (!state.isEmpty && state == cookie), "state \(quoted(state)), cookie \(quoted(cookie)): accepted is \(accepted)")
    // Any other name looked up: found under its own name. Not the empty name: Hummingbird finds
    // a segment by the text before its first `=` but parses it skipping empty parts, so
    // `cookies[""]` on "= a=b" is the cookie named " a" (Crashes/cookie-empty-name.bin).
    for header in headers {
        for segment in header.split(separator: ";").prefix(4) {
            let key = String(segment.drop { $0.isWhitespace }.prefix { $0 != "=" })
            if !key.isEmpty, let other = request.cookies[key] {
                require(other.name == key, "looked up \(quoted(key)), found \(quoted(other.name))")
            }
        }
    }

    // The cookie `start` sets for a state of 32 bytes from the input.
    let issued = Base64URL.encode(Array(bytes.suffix(32)) + [UInt8](repeating: 7, count: max(0, 32 - bytes.count)))
    let set = Cookie(name: stateCookie, value: issued, maxAge: 600, path: path, secure: secure, httpOnly: true, sameSite: .lax)
    guard let back = Cookie(from: Substring(set.description)) else {
        require(false, "Set-Cookie \(quoted(set.description)) does not parse")
        return 0
    }
    require(
        back.name == stateCookie && back.value == issued && back.maxAge == 600 && back.path == path
            && back.httpOnly && back.sameSite == .lax && back.secure == secure,
        "Set-Cookie \(quoted(set.description)) reads back as \(quoted(back.description))")
    // The clearing cookie: Hummingbird reads a cookie with an empty value as no cookie at all
    // (`Cookie(from:)` is nil), so it is checked as text.
    let clear = Cookie(name: stateCookie, value: "", maxAge: 0, path: path, secure: secure, httpOnly: true, sameSite: .lax)
    let attributes = clear.description.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
    require(
        attributes.first == stateCookie + "=" && attributes.contains("Max-Age=0") && attributes.contains("Path=" + path),
        "the clearing cookie is \(quoted(clear.description))")

    // The browser sends it back: first, or after the input's cookies when they do not name it.
    let others = headers.first ?? ""
    let echoed =
        [
            Request(cookieHeaders: ["\(stateCookie)=\(issued); " + others]),
            Request(cookieHeaders: ["\(stateCookie)=\(issued)"] + headers),
        ] + (headers.contains { $0.contains(stateCookie) } ? [] : [Request(cookieHeaders: headers + ["\(stateCookie)=\(issued)"])])
    for request in echoed {
        let (cookie, accepted) = callbackAccepts(state: issued, request: request, name: stateCookie)
        require(accepted, "state \(issued) echoed with \(headers.map(quoted)) reads back as \(quoted(cookie))")
    }
    return 0
}
