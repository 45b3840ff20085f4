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
        let buffer = try await body.collect(upTo: context.maxUploadSize)
        guard buffer.readableBytes > 0 else {
            throw DomainError.malformed("Request body must be a JSON object")
        }
        return try Self.decode(type, from: Data(buffer.readableBytesView))
    }

    /// Like `decodeJSON`, but an empty body (no bytes) means "no body" and gives nil. A body of
    /// blanks is a body that is not JSON (400), as the contract has it: Schemathesis found one
    /// (`" "`) taken for no body.
    func decodeOptionalJSON<Value: Decodable>(_ type: Value.Type, context: some RequestContext) async throws -> Value? {
        let buffer = try await body.collect(upTo: context.maxUploadSize)
        guard buffer.readableBytes > 0 else { return nil }
        return try Self.decode(type, from: Data(buffer.readableBytesView))
    }

    private static func decode<Value: Decodable>(_ type: Value.Type, from data: Data) throws -> Value {
        if let flaw = data.withUnsafeBytes(StrictJSON.flaw(in:)) { throw DomainError(flaw) }
        do {
            return try PortalJSON.decoder.decode(Value.self, from: data)
        } catch let error as DecodingError {
            let problem = DomainError(error)
            // A number the decoder cannot hold (`1.5` or `2^63` for a whole number, `1e20`) is
            // reported without a field, as if the JSON were broken: it is valid JSON with an
            // invalid field, so say which.
            if case .malformed = problem, let field = Self.unrepresentableNumberField(Value.self, in: data) {
                throw DomainError.invalid("Field '\(field)' must be a whole number within range")
            }
            throw problem
        }
    }

    /// The first top-level field (by name) of `Value`'s body whose number no `Int` holds and that
    /// is what its decoding fails on; nil when the failure is something else (an unknown key's
    /// `0.5` is ignored by the decoder, and must not be named).
    static func unrepresentableNumberField<Value: Decodable>(_ type: Value.Type, in data: Data) -> String? {
        guard let values = try? JSONDecoder().decode([String: TopLevelValue].self, from: data),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        let suspects = values.keys.sorted().filter { values[$0] == .numberNotAnInt }
        // Each try decodes the whole body again: a body of thousands of such keys gets the
        // plain 400 rather than a decode per key.
        guard suspects.count <= 8 else { return nil }
        func failsAsMalformed(keeping kept: String?) -> Bool {
            var patched = object
            // The kept one as JSONSerialization read it: the decoder read the same (a body that
            // names a key twice, or holds a number beyond any Double, does not get this far).
            for key in suspects where key != kept { patched[key] = 0 }
            guard let body = try? JSONSerialization.data(withJSONObject: patched) else { return false }
            do {
                _ = try PortalJSON.decoder.decode(Value.self, from: body)
                return false
            } catch let error as DecodingError {
                if case .malformed = DomainError(error) { return true }
                return false
            } catch {
                return false
            }
        }
        // With every suspect made a plain 0 the body must decode past this failure; then the
        // culprit is a suspect that alone brings it back.
        guard !suspects.isEmpty, !failsAsMalformed(keeping: nil) else { return nil }
        return suspects.first { failsAsMalformed(keeping: $0) }
    }

    /// A JSON value seen only as far as "a number the decoder will not read as an `Int`, or
    /// something else". The decoder judges a whole number by its digits, not by the `Double`
    /// they make: `972036580822337203.52` is a whole `Double` (the fraction is below its
    /// precision) and still no `Int` to the decoder, as `1.5`, `2^63` and `1e20` are not.
    private enum TopLevelValue: Decodable, Equatable {
        case numberNotAnInt
        case other

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if (try? container.decode(Int.self)) != nil || (try? container.decode(Bool.self)) != nil
                || container.decodeNil() || (try? container.decode(String.self)) != nil
                || (try? container.decode([TopLevelValue].self)) != nil
                || (try? container.decode([String: TopLevelValue].self)) != nil
            {
                self = .other
            } else {
                // What is left is a number: a fraction, one beyond `Int`, or one beyond any
                // `Double` (`1e3000`).
                self = .numberNotAnInt
            }
        }
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
