import Foundation

/// A remote workspace people launch sessions on: a VDI desktop, SAP GUI, a Linux box, a web app.
public struct Workspace: Sendable, Equatable, Codable {
    /// Ids no workspace may take: the words the API's collection uses for actions of its own
    /// (`POST /api/workspaces/reset`). `/api/workspaces/{id}` could never reach a workspace so named.
    public static let reservedIDs: Set<String> = ["reset"]

    public enum Status: String, Sendable, Codable, CaseIterable {
        case available
        case maintenance
        case comingSoon = "coming_soon"
    }

    public enum LaunchMode: String, Sendable, Codable, CaseIterable {
        case iframe
        case newTab = "new_tab"
    }

    public var id: String
    public var name: String
    /// Kind of workspace, e.g. `linux`, `windows`, `sap`, `browser`, `admin`.
    public var type: String
    public var description: String
    public var imageURL: String?
    public var status: Status
    public var cpu: Int
    /// Memory in GiB.
    public var memory: Int
    /// Storage in GiB.
    public var storage: Int
    public var url: String
    /// How the client connects: `vnc`, `rdp`, `sapgui`, `https`, ...
    public var connectionType: String
    public var launchMode: LaunchMode
    public var clientless: Bool
    public var requiresNetbird: Bool
    public var allowedRoles: [Role]
    public var maxSessionMinutes: Int
    public var createdAt: Date
    public var updatedAt: Date
    /// The stream NeoSC relays for this workspace's sessions (issue #17), as `StreamUpstream`
    /// writes it (`vnc://host:5901`, `wss://host:443/path`); nil: the workspace has no stream
    /// through NeoSC.
    public var streamUpstream: String?

    public init(
        id: String, name: String, type: String, description: String, imageURL: String?, status: Status,
        cpu: Int, memory: Int, storage: Int, url: String, connectionType: String, launchMode: LaunchMode,
        clientless: Bool, requiresNetbird: Bool, allowedRoles: [Role], maxSessionMinutes: Int,
        createdAt: Date, updatedAt: Date, streamUpstream: String? = nil
    ) {
        self.id = id
        self.name = name
        self.type = type
        self.description = description
        self.imageURL = imageURL
        self.status = status
        self.cpu = cpu
        self.memory = memory
        self.storage = storage
        self.url = url
        self.connectionType = connectionType
        self.launchMode = launchMode
        self.clientless = clientless
        self.requiresNetbird = requiresNetbird
        self.allowedRoles = allowedRoles
        self.maxSessionMinutes = maxSessionMinutes
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.streamUpstream = streamUpstream
    }

    /// The wire form (snake_case by the encoder): every field, `image_url` left out when unset and
    /// `stream_upstream` null when unset, so a client tells "no stream" from a server that does
    /// not know the field.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encode(type, forKey: .type)
        try container.encode(description, forKey: .description)
        try container.encodeIfPresent(imageURL, forKey: .imageURL)
        try container.encode(status, forKey: .status)
        try container.encode(cpu, forKey: .cpu)
        try container.encode(memory, forKey: .memory)
        try container.encode(storage, forKey: .storage)
        try container.encode(url, forKey: .url)
        try container.encode(connectionType, forKey: .connectionType)
        try container.encode(launchMode, forKey: .launchMode)
        try container.encode(clientless, forKey: .clientless)
        try container.encode(requiresNetbird, forKey: .requiresNetbird)
        try container.encode(allowedRoles, forKey: .allowedRoles)
        try container.encode(maxSessionMinutes, forKey: .maxSessionMinutes)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
        try container.encode(streamUpstream, forKey: .streamUpstream)
    }

    /// Whether visitors may get it as a just-in-time demo: available, and open to `demo-user`.
    public var isOfferedForDemos: Bool { status == .available && allowedRoles.contains(.demoUser) }

    /// Admins see every workspace; everyone else only those that name their role.
    public func isVisible(to role: Role) -> Bool {
        role == .admin || allowedRoles.contains(role)
    }
}

/// Bounds on the fields an administrator may set, so a workspace is always one the portal can show and launch.
public enum WorkspaceLimits {
    public static let nameLength = 1...120
    public static let typeLength = 1...40
    public static let descriptionLength = 0...2_000
    public static let cpu = 1...256
    public static let memory = 1...4_096
    public static let storage = 1...65_536
    public static let maxSessionMinutes = 1...10_080
    public static let urlLength = 1...2_048
    public static let connectionTypeLength = 1...40
}
