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

    init(_ text: String) {
        self.text = text
    }

    /// Every `name=value` pair in order, repeated names included (checkboxes), decoded.
    var pairs: [(name: String, value: String)] {
        text.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decoded(_ part: Substring) -> String {
                part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            return (decoded(parts[0]), parts.count > 1 ? decoded(parts[1]) : "")
        }
    }

    /// A missing or malformed field is a 422 naming it, like the API's.
    func decode<Form: Decodable>(_ type: Form.Type) throws -> Form {
        do {
            return try URLEncodedFormDecoder().decode(Form.self, from: text)
        } catch let error as DecodingError {
            throw DomainError(error)
        } catch {
            throw DomainError.malformed("The form could not be read")
        }
    }
}
