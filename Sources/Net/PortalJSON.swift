import Domain
import Foundation
import Hummingbird
import NIOCore

/// The wire format: snake_case keys, ISO-8601 UTC timestamps, keys in one stable order
/// (sorted): without it the order follows a dictionary seeded per process, so two replicas, two
/// runs and the docs disagree, and diffs of responses are noise.
public enum PortalJSON {
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return encoder
    }()

    /// Request bodies name their snake_case keys explicitly (CodingKeys), so errors can quote them.
    /// Timestamps are read as query parameters are (`Timestamp`): a moment that does not exist is
    /// refused, not rolled over, and a bad one is the field's error (422), not "not JSON".
    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = Timestamp.parse(text) else {
                throw DomainError.invalid("Field '\(field(decoder.codingPath))' must be an ISO-8601 timestamp such as \(Timestamp.example)")
            }
            return date
        }
        return decoder
    }()

    /// A field's path as an error names it: `workspaces[2].id`.
    static func field(_ path: [any CodingKey]) -> String {
        path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
    }
}

/// A JSON response with a chosen status, encoded in the portal's wire format.
public struct JSONBody<Value: Encodable & Sendable>: ResponseGenerator, Sendable {
    public var value: Value
    public var status: HTTPResponse.Status

    public init(_ value: Value, status: HTTPResponse.Status = .ok) {
        self.value = value
        self.status = status
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try PortalJSON.encoder.encode(value, from: request, context: context)
        response.status = status
        return response
    }
}

extension Request {
    /// Reads the body (at most the context's upload limit) and decodes it, turning every way it can
    /// be wrong into a 400 (not JSON at all) or 422 (JSON, but a field is missing or wrong).
    func decodeJSON<Value: Decodable>(_ type: Value.Type, context: some RequestContext) async throws -> Value {
        try requireJSONMediaType()
        let buffer = try await boundedBody(upTo: context.maxUploadSize)
        guard buffer.readableBytes > 0 else {
            throw DomainError.malformed("Request body must be a JSON object")
        }
        return try Self.decode(type, from: Data(buffer.readableBytesView))
    }

    /// Like `decodeJSON`, but an empty body (no bytes) means "no body" and gives nil. A body of
    /// blanks is a body that is not JSON (400), as the contract has it: Schemathesis found one
    /// (`" "`) taken for no body.
    func decodeOptionalJSON<Value: Decodable>(_ type: Value.Type, context: some RequestContext) async throws -> Value? {
        let buffer = try await boundedBody(upTo: context.maxUploadSize)
        guard buffer.readableBytes > 0 else { return nil }
        try requireJSONMediaType()
        return try Self.decode(type, from: Data(buffer.readableBytesView))
    }

    /// A body's declared type, when it declares one, is JSON (`application/json`, or an
    /// `application/…+json`): else 415. The types a browser sends to another site without asking
    /// it first (`text/plain`, a form's) are not, so no other site's page can make its visitors'
    /// browsers start demos, register accounts or try passwords here, each from its own address.
    /// A body without a declared type is read as JSON (command-line clients often send none).
    func requireJSONMediaType() throws {
        guard let declared = headers[.contentType] else { return }
        let mediaType = declared.prefix { $0 != ";" }.trimmingCharacters(in: .whitespaces).lowercased()
        guard mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json")) else {
            throw HTTPError(.unsupportedMediaType, message: "Content-Type must be application/json")
        }
    }

    private static func decode<Value: Decodable>(_ type: Value.Type, from data: Data) throws -> Value {
        if let flaw = data.withUnsafeBytes(StrictJSON.flaw(in:)) { throw DomainError(flaw) }
        if let closed = Value.self as? any ClosedJSONObject.Type, let stray = closed.strayField(in: data) {
            throw DomainError.invalid("Field '\(stray.bounded(toUTF8Bytes: 64))' is not one this request takes")
        }
        do {
            return try PortalJSON.decoder.decode(Value.self, from: data)
        } catch let error as DecodingError {
            let problem = DomainError(error)
            // A number the decoder cannot hold (`1.5` or `2^63` for a whole number, `1e20`) is
            // reported without a field, as if the JSON were broken, at any depth: it is valid
            // JSON with an invalid field, so say which.
            if case .malformed = problem, let field = Self.unrepresentableNumberField(Value.self, in: data) {
                throw DomainError.invalid("Field '\(field)' must be a whole number within range")
            }
            throw problem
        }
    }

    /// The most numbers an `Int` may not hold that a body may have for the one its decoding
    /// fails on to be named; a body with more gets the plain 400.
    package static let namedNumberLimit = 64

    /// The first field (by its path: `cpu`, `settings.requests`) of `Value`'s body whose number no
    /// `Int` holds and that is what its decoding fails on; nil when the failure is something else
    /// (an unknown key's `0.5` is ignored by the decoder, and must not be named).
    static func unrepresentableNumberField<Value: Decodable>(_ type: Value.Type, in data: Data) -> String? {
        let body = [UInt8](data)
        // The suspects: numbers the decoder will not read as an `Int`. Plain digits that no
        // `Int` can overflow never are one; the rest are asked of the decoder, which judges a
        // whole number by its digits, not by the `Double` they make (`972036580822337203.52` is
        // a whole `Double`, its fraction below a Double's precision, and no `Int` to the decoder),
        // and refuses one beyond any `Double` (`1e400`), which JSONSerialization cannot even read.
        guard let candidates = body.withUnsafeBytes({ StrictJSON.wideNumbers(in: $0, limit: namedNumberLimit) }) else { return nil }
        let decoder = JSONDecoder()
        // In the body's order, as they are patched.
        let suspects = candidates.filter { (try? decoder.decode(Int.self, from: Data(body[$0.text]))) == nil }
        guard !suspects.isEmpty else { return nil }
        // Whether the body, with every suspect but those `kept` written `0`, still fails as malformed.
        func failsAsMalformed(keeping kept: Set<StrictJSON.Number>) -> Bool {
            var patched: [UInt8] = []
            patched.reserveCapacity(body.count)
            var next = 0
            for suspect in suspects where !kept.contains(suspect) {
                patched += body[next..<suspect.text.lowerBound]
                patched.append(UInt8(ascii: "0"))
                next = suspect.text.upperBound
            }
            patched += body[next...]
            do {
                _ = try PortalJSON.decoder.decode(Value.self, from: Data(patched))
                return false
            } catch let error as DecodingError {
                if case .malformed = DomainError(error) { return true }
                return false
            } catch {
                return false
            }
        }
        // With every suspect made a plain 0 the body must decode past this failure. The culprit
        // named is the first by name that alone brings it back: the shortest run of the suspects
        // by name that still fails ends with it, found by halving (a decode a step, not one per
        // suspect), then checked alone.
        guard !failsAsMalformed(keeping: []) else { return nil }
        let byName = suspects.sorted { $0.field < $1.field }
        var shortest = byName.count
        var longestPassing = 0
        while longestPassing + 1 < shortest {
            let middle = (longestPassing + shortest) / 2
            if failsAsMalformed(keeping: Set(byName[..<middle])) {
                shortest = middle
            } else {
                longestPassing = middle
            }
        }
        let culprit = byName[shortest - 1]
        // The first alone has been tried already: it is the shortest run of one.
        return shortest == 1 || failsAsMalformed(keeping: [culprit]) ? culprit.field : nil
    }
}

extension DomainError {
    /// What a client should be told about a body that is not strict JSON: always a 400.
    init(_ flaw: StrictJSON.Flaw) {
        switch flaw {
        case .syntax(let offset):
            self = .malformed("Request body is not valid JSON (at byte \(offset + 1))")
        case .endsEarly:
            self = .malformed("Request body is not valid JSON: it ends before its value does")
        case .trailingComma(let offset):
            self = .malformed("Request body is not valid JSON: a comma with no value after it (at byte \(offset + 1))")
        case .duplicateKey(let key):
            self = .malformed("Request body is not valid JSON: an object names '\(key.bounded(toUTF8Bytes: 128))' twice")
        case .tooDeep:
            self = .malformed("Request body is not valid JSON: more than \(StrictJSON.maximumDepth) objects and arrays nested")
        }
    }

    /// What a client should be told about a body that did not decode.
    init(_ error: DecodingError) {
        switch error {
        case .keyNotFound(let key, let context):
            self = .invalid("Field '\(PortalJSON.field(context.codingPath + [key]))' is required")
        case .valueNotFound(_, let context) where !context.codingPath.isEmpty:
            self = .invalid("Field '\(PortalJSON.field(context.codingPath))' must not be null")
        case .typeMismatch(_, let context) where !context.codingPath.isEmpty:
            self = .invalid("Field '\(PortalJSON.field(context.codingPath))' has the wrong type")
        case .dataCorrupted(let context) where !context.codingPath.isEmpty:
            self = .invalid("Field '\(PortalJSON.field(context.codingPath))' has an invalid value")
        case .typeMismatch, .valueNotFound:
            self = .malformed("Request body must be a JSON object")
        default:
            self = .malformed("Request body is not valid JSON")
        }
    }
}
