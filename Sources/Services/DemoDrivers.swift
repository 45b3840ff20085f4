import Domain
import Foundation

/// The outside systems demo clean-up talks to, as configured.
public struct DemoDrivers: Sendable {
    public var provisioner: any DemoProvisioner
    /// nil when no NetBird is configured: the step then has nothing to revoke.
    public var network: (any NetworkAccessRevoker)?
    /// nil when no Zitadel management access is configured: the step then has nothing to remove.
    public var identity: (any IdentityRoleRevoker)?

    public init(
        provisioner: any DemoProvisioner = CatalogueProvisioner(), network: (any NetworkAccessRevoker)? = nil,
        identity: (any IdentityRoleRevoker)? = nil
    ) {
        self.provisioner = provisioner
        self.network = network
        self.identity = identity
    }
}

/// `NEOSC_PROVISIONER=none`: the workspace is already running; the visitor connects to its
/// catalogue URL and there is nothing to take down.
public struct CatalogueProvisioner: DemoProvisioner {
    public init() {}

    public func provision(
        _ demo: DemoSession, workspace: Workspace, recording: Bool
    ) async throws -> (
        connectionURL: String?, networkPeerID: String?
    ) {
        (workspace.url, nil)
    }

    public func deprovision(_ demo: DemoSession) async throws {}
}

/// A driver call that failed, with the reason for the audit trail.
public struct DriverFailure: Error, CustomStringConvertible {
    public var description: String

    public init(description: String) {
        self.description = description
    }
}
