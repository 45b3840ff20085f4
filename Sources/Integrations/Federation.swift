import Actors
import Domain

/// The identity providers NeoSC trusts besides its own accounts: an OpenID provider (Zitadel)
/// for sign-in, and Pomerium in front, whose assertion then identifies every request.
public struct Federation: Sendable {
    public var oidc: OIDCProvider?
    /// Set in `NEOSC_AUTH_MODE=pomerium`: every API request must carry a verified assertion.
    public var pomerium: PomeriumGate?
    package let pendingSignIns: PendingSignIns

    public init(oidc: OIDCProvider? = nil, pomerium: PomeriumGate? = nil, clock: WallClock = .system) {
        self.oidc = oidc
        self.pomerium = pomerium
        self.pendingSignIns = PendingSignIns(clock: clock)
    }

    public static var none: Federation { Federation() }
}
