import Foundation

/// The fields an administrator sends to create a workspace (name, type and url required) or to
/// update one (any subset), and the rules for turning them into a workspace: creation's
/// defaults, every field validated, an id that never changes. The stream upstream is checked
/// against the operator's allowlist, which the caller hands in (Domain reads no configuration).
public struct WorkspaceDraft: Sendable, Decodable {
    public var id: String?
    public var name: String?
    public var type: String?
    public var description: String?
    public var imageURL: String?
    public var status: Workspace.Status?
    public var cpu: Int?
    public var memory: Int?
    public var storage: Int?
    public var url: String?
    public var connectionType: String?
    public var launchMode: Workspace.LaunchMode?
    public var clientless: Bool?
    public var requiresNetbird: Bool?
    public var allowedRoles: [Role]?
    public var maxSessionMinutes: Int?
    /// nil: not sent (unchanged); empty (JSON `null` or `""`): no stream; otherwise a
    /// `StreamUpstream` the allowlist permits.
    public var streamUpstream: String?

    enum CodingKeys: String, CodingKey {
        case id, name, type, description, status, cpu, memory, storage, url, clientless
        case imageURL = "image_url"
        case connectionType = "connection_type"
        case launchMode = "launch_mode"
        case requiresNetbird = "requires_netbird"
        case allowedRoles = "allowed_roles"
        case maxSessionMinutes = "max_session_minutes"
        case streamUpstream = "stream_upstream"
    }

    /// `base` with this draft's fields applied, every field validated.
    func applied(to base: Workspace, upstreams: StreamUpstreamAllowlist) throws(DomainError) -> Workspace {
        var workspace = base
        if let name { workspace.name = try Validation.line(name, field: "name", length: WorkspaceLimits.nameLength) }
        if let type {
            workspace.type = try Validation.line(type, field: "type", length: WorkspaceLimits.typeLength)
        }
        if let description {
            workspace.description = try Validation.text(
                description, field: "description", length: WorkspaceLimits.descriptionLength)
        }
        if let imageURL { workspace.imageURL = try Validation.url(imageURL, field: "image_url") }
        if let status { workspace.status = status }
        if let cpu { workspace.cpu = try Validation.inRange(cpu, WorkspaceLimits.cpu, field: "cpu") }
        if let memory { workspace.memory = try Validation.inRange(memory, WorkspaceLimits.memory, field: "memory") }
        if let storage {
            workspace.storage = try Validation.inRange(storage, WorkspaceLimits.storage, field: "storage")
        }
        if let url { workspace.url = try Validation.url(url, field: "url") }
        if let connectionType {
            workspace.connectionType = try Validation.line(
                connectionType, field: "connection_type", length: WorkspaceLimits.connectionTypeLength)
        }
        if let launchMode { workspace.launchMode = launchMode }
        if let clientless { workspace.clientless = clientless }
        if let requiresNetbird { workspace.requiresNetbird = requiresNetbird }
        if let allowedRoles {
            workspace.allowedRoles = Role.allCases.filter(allowedRoles.contains)
        }
        if let maxSessionMinutes {
            workspace.maxSessionMinutes = try Validation.inRange(
                maxSessionMinutes, WorkspaceLimits.maxSessionMinutes, field: "max_session_minutes")
        }
        if let streamUpstream {
            workspace.streamUpstream = try Self.streamUpstream(streamUpstream, permittedBy: upstreams)
        }
        return workspace
    }

    /// `text` as a workspace stores it (nil when empty): a valid upstream that `upstreams` permits.
    static func streamUpstream(_ text: String, permittedBy upstreams: StreamUpstreamAllowlist) throws(DomainError) -> String? {
        guard !text.isEmpty else { return nil }
        guard !upstreams.isEmpty else {
            throw .invalid(
                "stream_upstream: streaming is off on this server (no upstreams are allowed); set NEOSC_STREAM_UPSTREAMS to allow it")
        }
        let upstream = try StreamUpstream(text)
        guard upstreams.permits(upstream) else {
            throw .invalid(
                "stream_upstream: \(upstream.host) is not among the upstreams this server may connect to (NEOSC_STREAM_UPSTREAMS)")
        }
        return upstream.description
    }

    /// A new workspace from this draft: name, type and url required, `id` (or `generatedID`) a
    /// slug, every other field the catalogue's default unless the draft sets it; a stream
    /// upstream only one of `upstreams`.
    public func newWorkspace(
        id generatedID: String, at now: Date, upstreams: StreamUpstreamAllowlist
    ) throws(DomainError) -> Workspace {
        guard name != nil else { throw .invalid("Field 'name' is required") }
        guard type != nil else { throw .invalid("Field 'type' is required") }
        guard url != nil else { throw .invalid("Field 'url' is required") }
        let id = self.id ?? generatedID
        guard Identifier.isValidSlug(id) else {
            throw .invalid("Field 'id' must be 1 to 64 lower-case letters, digits or dashes")
        }
        guard !Workspace.reservedIDs.contains(id) else {
            throw .invalid("Field 'id' cannot be '\(id)': the API uses that word for an action of its own")
        }
        let blank = Workspace(
            id: id, name: "", type: "", description: "", imageURL: nil, status: .available, cpu: 2, memory: 4,
            storage: 20, url: "/", connectionType: "https", launchMode: .iframe, clientless: true,
            requiresNetbird: false, allowedRoles: [.admin, .neosc], maxSessionMinutes: 480, createdAt: now,
            updatedAt: now)
        return try applied(to: blank, upstreams: upstreams)
    }

    /// `current` with this draft applied; the id cannot change, a stream upstream sent must be
    /// one of `upstreams` (one already stored and not sent is kept).
    public func updating(
        _ current: Workspace, at now: Date, upstreams: StreamUpstreamAllowlist
    ) throws(DomainError) -> Workspace {
        if let id, id != current.id { throw .invalid("Field 'id' cannot be changed") }
        var workspace = try applied(to: current, upstreams: upstreams)
        workspace.updatedAt = now
        return workspace
    }

    /// The fields an update changed, as the audit trail names them.
    public static func changedFields(from old: Workspace, to new: Workspace) -> [String] {
        var fields: [String] = []
        if old.name != new.name { fields.append("name") }
        if old.type != new.type { fields.append("type") }
        if old.description != new.description { fields.append("description") }
        if old.imageURL != new.imageURL { fields.append("image_url") }
        if old.status != new.status { fields.append("status") }
        if old.cpu != new.cpu || old.memory != new.memory || old.storage != new.storage { fields.append("resources") }
        if old.url != new.url { fields.append("url") }
        if old.connectionType != new.connectionType { fields.append("connection_type") }
        if old.launchMode != new.launchMode { fields.append("launch_mode") }
        if old.clientless != new.clientless { fields.append("clientless") }
        if old.requiresNetbird != new.requiresNetbird { fields.append("requires_netbird") }
        if old.allowedRoles != new.allowedRoles { fields.append("allowed_roles") }
        if old.maxSessionMinutes != new.maxSessionMinutes { fields.append("max_session_minutes") }
        if old.streamUpstream != new.streamUpstream { fields.append("stream_upstream") }
        return fields
    }
}

extension WorkspaceDraft {
    /// Decodes every field as the synthesised decoding would, except `stream_upstream`, whose
    /// `null` is a value (no stream, `""`) rather than "not sent" (nil).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decodeIfPresent(String.self, forKey: .id)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        type = try container.decodeIfPresent(String.self, forKey: .type)
        description = try container.decodeIfPresent(String.self, forKey: .description)
        imageURL = try container.decodeIfPresent(String.self, forKey: .imageURL)
        status = try container.decodeIfPresent(Workspace.Status.self, forKey: .status)
        cpu = try container.decodeIfPresent(Int.self, forKey: .cpu)
        memory = try container.decodeIfPresent(Int.self, forKey: .memory)
        storage = try container.decodeIfPresent(Int.self, forKey: .storage)
        url = try container.decodeIfPresent(String.self, forKey: .url)
        connectionType = try container.decodeIfPresent(String.self, forKey: .connectionType)
        launchMode = try container.decodeIfPresent(Workspace.LaunchMode.self, forKey: .launchMode)
        clientless = try container.decodeIfPresent(Bool.self, forKey: .clientless)
        requiresNetbird = try container.decodeIfPresent(Bool.self, forKey: .requiresNetbird)
        allowedRoles = try container.decodeIfPresent([Role].self, forKey: .allowedRoles)
        maxSessionMinutes = try container.decodeIfPresent(Int.self, forKey: .maxSessionMinutes)
        if container.contains(.streamUpstream) {
            streamUpstream =
                try container.decodeNil(forKey: .streamUpstream) ? "" : container.decode(String.self, forKey: .streamUpstream)
        }
    }
}
