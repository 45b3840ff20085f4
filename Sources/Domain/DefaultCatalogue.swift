import Foundation

/// What a new installation starts with, and what `POST /api/workspaces/reset` restores.
public enum DefaultCatalogue {
    public static func workspaces(at now: Date) -> [Workspace] {
        [
            Workspace(
                id: "ws-linux-desktop", name: "Linux Desktop",
                type: "linux", description: "Ubuntu 24.04 desktop with developer tools, streamed to the browser.",
                imageURL: "/images/linux-desktop.png", status: .available, cpu: 4, memory: 8, storage: 50,
                url: "/workspaces/linux-desktop", connectionType: "vnc", launchMode: .iframe, clientless: true,
                requiresNetbird: false, allowedRoles: [.admin, .neosc, .user], maxSessionMinutes: 480,
                createdAt: now, updatedAt: now),
            Workspace(
                id: "ws-windows-rdp", name: "Windows 11 Desktop",
                type: "windows", description: "Windows 11 VDI desktop with Office, reached over RDP through the gateway.",
                imageURL: "/images/windows-desktop.png", status: .available, cpu: 4, memory: 16, storage: 100,
                url: "/workspaces/windows-rdp", connectionType: "rdp", launchMode: .iframe, clientless: true,
                requiresNetbird: false, allowedRoles: [.admin, .neosc], maxSessionMinutes: 480,
                createdAt: now, updatedAt: now),
            Workspace(
                id: "ws-sap-gui", name: "SAP GUI",
                type: "sap", description: "SAP GUI for the S/4HANA landscape; needs the NetBird overlay to reach SAP.",
                imageURL: "/images/sap-gui.png", status: .available, cpu: 2, memory: 8, storage: 20,
                url: "/workspaces/sap-gui", connectionType: "sapgui", launchMode: .newTab, clientless: false,
                requiresNetbird: true, allowedRoles: [.admin, .neosc], maxSessionMinutes: 240,
                createdAt: now, updatedAt: now),
            Workspace(
                id: "ws-secure-browser", name: "Secure Browser",
                type: "browser", description: "Isolated Chromium for untrusted sites; nothing reaches the device.",
                imageURL: "/images/secure-browser.png", status: .available, cpu: 2, memory: 4, storage: 10,
                url: "/workspaces/secure-browser", connectionType: "https", launchMode: .iframe, clientless: true,
                requiresNetbird: false, allowedRoles: [.admin, .neosc, .user, .demoUser], maxSessionMinutes: 120,
                createdAt: now, updatedAt: now),
            Workspace(
                id: "ws-admin-panel", name: "Admin Panel",
                type: "admin", description: "Infrastructure console for platform administrators.",
                imageURL: "/images/admin-panel.png", status: .available, cpu: 2, memory: 4, storage: 20,
                url: "/workspaces/admin-panel", connectionType: "https", launchMode: .newTab, clientless: true,
                requiresNetbird: true, allowedRoles: [.admin], maxSessionMinutes: 60,
                createdAt: now, updatedAt: now),
            Workspace(
                id: "ws-gpu-workstation", name: "GPU Workstation",
                type: "linux", description: "CUDA workstation for CAD and ML work.",
                imageURL: "/images/gpu-workstation.png", status: .comingSoon, cpu: 16, memory: 64, storage: 500,
                url: "/workspaces/gpu-workstation", connectionType: "vnc", launchMode: .iframe, clientless: true,
                requiresNetbird: false, allowedRoles: [.admin, .neosc], maxSessionMinutes: 480,
                createdAt: now, updatedAt: now),
        ]
    }

    /// The three policies every store starts with. The two that refuse requests start switched
    /// off: before policies acted they only weighed in the score, and an upgrade must not start
    /// refusing launches nobody chose to refuse (docs/policies.md).
    public static func policies(at now: Date) -> [Policy] {
        [
            Policy(
                id: "pol-mfa-required", name: "Require MFA",
                description: "Workspaces are launched only from a session that passed a second factor.",
                category: "authentication", enabled: false, weight: 40,
                scope: PolicyScope(roles: [.admin, .neosc, .user]), rule: .mfaRequired(appliesTo: .launch), updatedAt: now),
            Policy(
                id: "pol-network-zero-trust", name: "Zero Trust network access",
                description: "Workspaces that require NetBird are launched only from a device with a NetBird peer.",
                category: "network", enabled: false, weight: 35, rule: .networkRequired(claim: "netbird_peer_id"),
                updatedAt: now),
            Policy(
                id: "pol-session-recording", name: "Session recording",
                description: "Workspace sessions are recorded for later review.",
                category: "monitoring", enabled: false, weight: 25, rule: .sessionRecording(retentionDays: 30),
                updatedAt: now),
        ]
    }
}
