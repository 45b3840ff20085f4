// Target `request-json`: every request body the routes decode, through the routes' own
// `Request.decodeJSON` / `decodeOptionalJSON` (Sources/Net/PortalJSON.swift, compiled as is,
// with `PortalJSON.decoder` and its DecodingError mapping). The body types are the routes' own:
// .build-fuzz/generated/RequestTypes.swift is copied from Sources/Net by
// Support/request-types.py at every build, and lists each with the JSON keys it reads.
// Decoded workspace drafts go on through `WorkspaceDraft.newWorkspace` and `updating`, as
// `POST /api/workspaces` and `PATCH /api/workspaces/{id}` do.
//
// Input: one byte choosing the body type, then the body.
// Properties, for every input:
//   - decoding gives a value, or a DomainError that is `.malformed` (400) or `.invalid` (422);
//     never another error, never a trap;
//   - a 422 names a field: its detail is one of the mapping's sentences about `Field '<path>'`,
//     and the path starts with one of the keys the body type reads; or it refuses a key the
//     body does not read (a policy's bodies, `ClosedJSONObject`): at its top, one not among its
//     keys, or a key of an object one of its keys holds;
//   - a 400 is for a body that is not a JSON object: when the body is strict JSON and an object
//     (whether JSONSerialization reads it or, holding a number beyond any Double, does not), the
//     answer must be a 422 naming the field that is wrong;
//   - the strict check (StrictJSON) and Foundation's parser agree but where the check is meant to
//     be stricter: what the check passes, JSONSerialization parses (or finds a number no Swift
//     type holds); what JSONSerialization parses and the check refuses has a key named twice, a
//     comma with no value after it, or is not UTF-8 (a byte order mark, UTF-16 or UTF-32);
//   - an empty body is "Request body must be a JSON object"; for `decodeOptionalJSON` (PATCH
//     /api/policies/{id}) an empty body (no bytes) is no body, and a body of blanks a 400;
//   - a decoded draft becomes a workspace, or an `.invalid` DomainError; the workspace's fields
//     are within WorkspaceLimits and are what Validation makes of them (so storing and reading it
//     back does not change it), its roles are distinct, its id a slug.
import Foundation

struct BodyType: @unchecked Sendable {
    var name: String
    var type: any Decodable.Type
    var optional: Bool
    var keys: [String]

    init(_ name: String, _ type: any Decodable.Type, optional: Bool, keys: [String]) {
        (self.name, self.type, self.optional, self.keys) = (name, type, optional, keys)
    }
}

private let fieldSentence = try! NSRegularExpression(
    pattern: #"^Field '([^']*)' (is required|must not be null|has the wrong type|has an invalid value|"#
        + #"must be a whole number within range|must be an ISO-8601 timestamp such as \S+)$"#)

/// The key a closed body's refusal names (`ClosedJSONObject`: "Field '<key>' is not one this
/// request takes"), read scalar by scalar: a key may begin with a combining mark, which joins the
/// quote before it into one `Character`.
private func strayPath(in detail: String) -> String? {
    let scalars = Array(detail.unicodeScalars)
    let head = Array("Field '".unicodeScalars)
    let tail = Array("' is not one this request takes".unicodeScalars)
    guard scalars.count >= head.count + tail.count, scalars.starts(with: head), scalars.suffix(tail.count).elementsEqual(tail) else {
        return nil
    }
    return String(String.UnicodeScalarView(scalars[head.count..<(scalars.count - tail.count)]))
}

enum Decoded: Sendable {
    case value(UncheckedBox)
    case none
    case refused(any Error)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequestJSON(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    var input = FuzzInput(start, count)
    let body = requestBodyTypes[Int(input.byte()) % requestBodyTypes.count]
    let bytes = Array(input.bytes)
    // Declared as JSON, as clients send it: the media type check passes every input on.
    let request = Request(body: bytes, contentType: "application/json; charset=utf-8")

    let outcome = runBlocking { () -> Decoded in
        do {
            if body.optional {
                return try await decodeOptional(body.type, request).map { .value($0) } ?? .none
            }
            return .value(try await decode(body.type, request))
        } catch {
            return .refused(error)
        }
    }
    let isWhitespace = bytes.allSatisfy(isBlank)
    let flaw = bytes.withUnsafeBytes(StrictJSON.flaw(in:))
    let parsed: Any?
    do {
        parsed = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
    } catch {
        parsed = nil
        let reason = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? ""
        require(
            flaw != nil || (reason.hasPrefix("Number ") && reason.hasSuffix(" is not representable in Swift.")),
            "\(body.name): the strict check passed what JSONSerialization refuses: \(reason)")
    }
    // JSONSerialization also reads UTF-16 and UTF-32 (told by a byte order mark or the NULs of an
    // ASCII first character), and skips a UTF-8 byte order mark; a request body is UTF-8 alone.
    let otherEncoding =
        [[0xEF, 0xBB, 0xBF], [0xFE, 0xFF], [0xFF, 0xFE]].contains { bytes.starts(with: $0) } || bytes.prefix(4).contains(0)
    if parsed != nil, let flaw {
        switch flaw {
        case .duplicateKey, .trailingComma: break
        case .syntax where otherEncoding, .endsEarly where otherEncoding: break
        case .syntax, .endsEarly, .tooDeep: require(false, "\(body.name): the strict check refused JSON: \(flaw)")
        }
    }

    switch outcome {
    case .none:
        require(body.optional && bytes.isEmpty, "\(body.name): no value for a body that is not empty")
    case .value(let box):
        require(!isWhitespace, "\(body.name): a value from a blank body")
        if let draft = box.value as? WorkspaceDraft { checkDraft(draft) }
    case .refused(let error):
        guard let problem = error as? DomainError else {
            require(false, "\(body.name): \(type(of: error)) is not a DomainError: \(error)")
            return 0
        }
        switch problem {
        case .malformed(let detail):
            if bytes.isEmpty {
                require(detail == "Request body must be a JSON object", "\(body.name): empty body answered \(quoted(detail))")
            }
            // Strict JSON whose value is an object, whether or not JSONSerialization reads it
            // (it does not read a number beyond any Double, `1e400`).
            let isObject = flaw == nil && bytes.first { !isBlank($0) } == UInt8(ascii: "{")
            require(
                !isObject || parsed == nil || parsed is [String: Any], "\(body.name): JSONSerialization read an object as something else")
            // By design a body with more wide numbers (with a fraction or an exponent, or over 18
            // digits) than PortalJSON names a field among gets the plain 400.
            let tooMany = bytes.withUnsafeBytes { StrictJSON.wideNumbers(in: $0, limit: Request.namedNumberLimit) } == nil
            require(
                !isObject || tooMany,
                "\(body.name): a JSON object answered 400 \(quoted(detail)) instead of a 422 naming the field")
        case .invalid(let detail):
            let range = NSRange(detail.startIndex..., in: detail)
            if let refused = strayPath(in: detail) {
                // A key the body has and does not read, at its top or in an object one of its
                // keys holds (a key may itself hold a dot or begin with a combining mark, and a
                // long one is cut, ending in "…"): compared scalar by scalar.
                if let object = parsed as? [String: Any] {
                    var path = Array(refused.unicodeScalars)
                    if path.last == "…" { path.removeLast() }
                    func begins(_ key: String, with prefix: some Collection<Unicode.Scalar>) -> Bool {
                        Array(key.unicodeScalars).starts(with: prefix)
                    }
                    let atTop = object.keys.contains { !body.keys.contains($0) && begins($0, with: path) }
                    let nested = body.keys.contains { key in
                        let lead = Array((key + ".").unicodeScalars)
                        guard path.starts(with: lead), let inner = object[key] as? [String: Any] else { return false }
                        return inner.keys.contains { begins($0, with: path.dropFirst(lead.count)) }
                    }
                    require(atTop || nested, "\(body.name): 422 \(quoted(detail)) refuses a field the body does not have, or reads")
                }
                return 0
            }
            guard let match = fieldSentence.firstMatch(in: detail, range: range),
                let pathRange = Range(match.range(at: 1), in: detail)
            else {
                require(false, "\(body.name): 422 \(quoted(detail)) names no field")
                return 0
            }
            let path = detail[pathRange]
            let top = path.prefix { $0 != "." && $0 != "[" }
            require(body.keys.contains(String(top)), "\(body.name): 422 \(quoted(detail)) names a field it does not read")
        default:
            require(false, "\(body.name): refused with \(problem), neither 400 nor 422")
        }
    }
    return 0
}

/// JSON's blanks: space, tab, line feed, carriage return.
private func isBlank(_ byte: UInt8) -> Bool {
    byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
}

private func decode<Body: Decodable>(_ type: Body.Type, _ request: Request) async throws -> UncheckedBox {
    UncheckedBox(try await request.decodeJSON(type, context: FuzzContext()))
}

private func decodeOptional<Body: Decodable>(_ type: Body.Type, _ request: Request) async throws -> UncheckedBox? {
    try await request.decodeOptionalJSON(type, context: FuzzContext()).map(UncheckedBox.init)
}

/// A decoded body handed back from the task that decoded it (the route types are not Sendable).
struct UncheckedBox: @unchecked Sendable {
    var value: Any
    init(_ value: Any) { self.value = value }
}

/// The upstreams an operator allows in these runs: a range and a name, so `stream_upstream`
/// values are parsed, matched and refused for real.
private let upstreams = StreamUpstreamAllowlist(ranges: [AddressRange("10.0.0.0/8")!], hosts: ["desktop.example"])

private func checkDraft(_ draft: WorkspaceDraft) {
    let now = Date(timeIntervalSince1970: 1_767_225_600)
    let created: Workspace
    do {
        created = try draft.newWorkspace(id: "generated-id", at: now, upstreams: upstreams)
    } catch {
        if case .invalid = error { return }
        require(false, "newWorkspace refused a draft with \(error), not a 422")
        return
    }
    checkWorkspace(created)
    require(created.createdAt == now && created.updatedAt == now, "a new workspace's dates are not now")
    do {
        let updated = try draft.updating(created, at: now.addingTimeInterval(60), upstreams: upstreams)
        checkWorkspace(updated)
        require(updated.id == created.id, "an update changed the id")
    } catch {
        guard case .invalid = error else {
            require(false, "updating refused a draft with \(error), not a 422")
            return
        }
        require(false, "a draft that made a workspace cannot update it: \(error)")
    }
}

private func checkWorkspace(_ workspace: Workspace) {
    require(Identifier.isValidSlug(workspace.id), "id \(quoted(workspace.id)) is not a slug")
    if let stream = workspace.streamUpstream {
        let parsed = try? StreamUpstream(stream)
        require(
            parsed.map { $0.description == stream && upstreams.permits($0) } == true,
            "stream_upstream \(quoted(stream)) is not an allowed, normalised upstream")
    }
    func same(_ value: String, _ validate: (String) throws(DomainError) -> String) -> Bool {
        (try? validate(value)) == value
    }
    require(
        same(workspace.name) { v throws(DomainError) in try Validation.text(v, field: "name", length: WorkspaceLimits.nameLength) },
        "name \(quoted(workspace.name)) is not what Validation makes of it")
    require(
        same(workspace.type) { v throws(DomainError) in try Validation.text(v, field: "type", length: WorkspaceLimits.typeLength) },
        "type \(quoted(workspace.type)) is not what Validation makes of it")
    require(
        workspace.description.isEmpty
            || same(workspace.description) { v throws(DomainError) in
                try Validation.text(v, field: "description", length: WorkspaceLimits.descriptionLength)
            },
        "description \(quoted(workspace.description)) is not what Validation makes of it")
    require(
        same(workspace.url) { v throws(DomainError) in try Validation.url(v, field: "url") },
        "url \(quoted(workspace.url)) is not what Validation makes of it")
    if let image = workspace.imageURL {
        require(
            same(image) { v throws(DomainError) in try Validation.url(v, field: "image_url") },
            "image_url \(quoted(image)) is not what Validation makes of it")
    }
    require(
        WorkspaceLimits.cpu.contains(workspace.cpu) && WorkspaceLimits.memory.contains(workspace.memory)
            && WorkspaceLimits.storage.contains(workspace.storage)
            && WorkspaceLimits.maxSessionMinutes.contains(workspace.maxSessionMinutes),
        "resources out of limits: \(workspace)")
    require(Set(workspace.allowedRoles).count == workspace.allowedRoles.count, "roles repeat: \(workspace.allowedRoles)")
}
