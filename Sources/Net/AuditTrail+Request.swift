import Domain
import Hummingbird
import Services

extension AuditTrail {
    /// Appends one audit entry for a request, from its client address (see `record`).
    func record(
        _ action: AuditAction, by actor: AuditActor, in context: some PortalContext, success: Bool = true,
        resource: (type: String, id: String)? = nil, details: [String: String] = [:]
    ) async throws {
        try await record(action, by: actor, from: context.clientAddress, success: success, resource: resource, details: details)
    }

    /// Refuses non-administrators, recording the refusal with the request's address and route.
    func requireAdmin(_ principal: Principal, to action: String, in context: some PortalContext) async throws {
        try await requireAdmin(principal, to: action, from: context.clientAddress, path: context.endpointPath)
    }
}
