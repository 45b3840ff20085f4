// For target `jwt`: Integrations' `OutboundHTTP` (AsyncHTTPClient on NIO) reduced to the one call
// the key-set cache makes, `get(_:)`, answered with the harness's JWKS document. Everything
// from the reply on (VerificationKeys.parse, the cache, the verifier) is NeoSC's own code.
import Foundation

public final class OutboundHTTP: Sendable {
    public struct Reply: Sendable {
        public var status: Int
        public var body: Data
    }

    private let document: Data

    public init(serving document: Data) {
        self.document = document
    }

    public func get(_ url: String, accept: String = "application/json") async throws -> Reply {
        Reply(status: 200, body: document)
    }
}
