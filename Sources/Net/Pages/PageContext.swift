import Domain
import Foundation
import Hummingbird

/// A request for a portal page: who is signed in, if anyone (the session cookie, or behind
/// Pomerium its assertion, read by `IdentityMiddleware`), the CSRF token the page's forms carry,
/// and, for a form post, its fields, already checked against that token by `PageGuardMiddleware`.
public struct PageContext: ChildRequestContext, PortalContext {
    public typealias ParentContext = PortalRequestContext

    public var coreContext: CoreRequestContextStorage
    public let peerAddress: String?
    public let clientAddress: String
    public let identity: Identity?
    /// Why a session that was presented was refused (expired, signed out elsewhere).
    public let credentialProblem: String?
    /// What every form on the page carries back (`PageGuardMiddleware`).
    var csrfToken = ""
    /// The fields of a form post (empty otherwise).
    var form = FormFields("")

    public init(context: PortalRequestContext) {
        coreContext = context.coreContext
        peerAddress = context.peerAddress
        clientAddress = context.clientAddress
        identity = context.identity
        credentialProblem = context.credentialProblem
    }

    /// Forms are small: 64 KiB is plenty, and a larger post is refused with 413.
    public var maxUploadSize: Int { 64 << 10 }
}

/// A page request with someone signed in: pages registered on groups of this context exist only
/// for a caller with a valid session; anyone else is sent to the sign-in page.
public struct SignedInPageContext: ChildRequestContext, PortalContext {
    public typealias ParentContext = PageContext

    public var coreContext: CoreRequestContextStorage
    public let peerAddress: String?
    public let clientAddress: String
    public let identity: Identity
    public var principal: Principal { identity.principal }
    let csrfToken: String
    let form: FormFields

    public init(context: PageContext) throws {
        guard let identity = context.identity else { throw PageRedirect(to: "/sign-in") }
        coreContext = context.coreContext
        peerAddress = context.peerAddress
        clientAddress = context.clientAddress
        self.identity = identity
        csrfToken = context.csrfToken
        form = context.form
    }

    public var maxUploadSize: Int { 64 << 10 }
}

/// Ends a page request with a `303 See Other` to `location` (a path on this host).
struct PageRedirect: Error {
    let location: String

    init(to location: String) {
        self.location = location
    }
}

/// The fields of an `application/x-www-form-urlencoded` post, decoded on demand into the form's
/// own type.
struct FormFields: Sendable {
    let text: String
    /// Whether the form's bytes are UTF-8, as a browser sends a form of a UTF-8 page. One that is
    /// not is refused when it is decoded, not stored with U+FFFD in place of its bytes.
    private let isUTF8: Bool

    init(_ text: String) {
        self.text = text
        isUTF8 = true
    }

    /// A posted form's body, as it was sent.
    init(_ body: ByteBuffer) {
        if let text = String(validating: body.readableBytesView, as: UTF8.self) {
            self.text = text
            isUTF8 = true
        } else {
            text = String(buffer: body)
            isUTF8 = false
        }
    }

    /// `pairs`, for a form read field by field rather than decoded: a form that is not UTF-8, or
    /// has a malformed escape, is a 400, and a field escaping bytes that are not UTF-8 a 422
    /// naming it, as `decode` answers (`pairs` would read such a field as empty).
    func strictPairs() throws -> [(name: String, value: String)] {
        guard isUTF8 else { throw DomainError.malformed("The form could not be read: it is not UTF-8 text") }
        return try text.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = try Self.decoded(parts[0], of: nil)
            return (name, parts.count > 1 ? try Self.decoded(parts[1], of: name) : "")
        }
    }

    /// Every `name=value` pair in order, repeated names included (checkboxes), decoded; a part
    /// that does not decode is read as empty (the CSRF token's lookup; `strictPairs` otherwise).
    var pairs: [(name: String, value: String)] {
        text.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decoded(_ part: Substring) -> String {
                part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            return (decoded(parts[0]), parts.count > 1 ? decoded(parts[1]) : "")
        }
    }

    /// A missing or malformed field is a 422 naming it, like the API's; so is one whose escapes
    /// (`%FF`) are not UTF-8 text. A form that is not UTF-8, or has a malformed escape, is a 400.
    func decode<Form: Decodable>(_ type: Form.Type) throws -> Form {
        _ = try strictPairs()
        do {
            return try URLEncodedFormDecoder().decode(Form.self, from: text)
        } catch let error as DecodingError {
            // The API's words for a field; its words for a body ("must be a JSON object") are not a form's.
            guard case .invalid = DomainError(error) else { throw DomainError.malformed("The form could not be read") }
            throw DomainError(error)
        } catch {
            throw DomainError.malformed("The form could not be read")
        }
    }

    /// A yes-or-no field as the pages' buttons send it: `true` or `false`, anything else a 422
    /// (`1`, `on`: a change that would otherwise be read as "no").
    static func boolean(_ value: String?, field: String) throws -> Bool {
        switch value {
        case "true": return true
        case "false": return false
        default: throw DomainError.invalid("Field '\(field)' must be true or false")
        }
    }

    /// `part` with `+` and its escapes decoded; a malformed escape is a 400, escaped bytes that are
    /// not UTF-8 a 422 naming `field` (the decoder would take both, each bad byte as U+FFFD).
    private static func decoded(_ part: Substring, of field: String?) throws -> String {
        if let text = part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding { return text }
        let bytes = Array(part.utf8)
        let malformed = bytes.indices.contains { index in
            bytes[index] == UInt8(ascii: "%")
                && !(index + 2 < bytes.count && Hex.value(of: bytes[index + 1]) != nil && Hex.value(of: bytes[index + 2]) != nil)
        }
        let name = field.map { String($0.prefix(64)) }
        if malformed {
            throw DomainError.malformed("The form could not be read: \(name.map { "field '\($0)'" } ?? "a field's name") has a malformed %-escape")
        }
        throw DomainError.invalid("Field '\(name ?? "?")' is not UTF-8 text")
    }
}
