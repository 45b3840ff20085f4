import Actors
import ArgumentParser
import Domain
import Foundation
import Logging
import SQLiteStore
import Services

/// `neosc admin …`: manage administrator accounts directly in the store.
struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "Create administrators, change roles, reset passwords.",
        subcommands: [Create.self, SetRole.self, ResetPassword.self, Unlock.self, ResetMFA.self, DisablePolicy.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an administrator; the password is read from standard input.")

        @Option(help: "E-mail address of the new administrator.")
        var email: String

        @Flag(help: "Read the password from standard input (required: passwords are never arguments).")
        var passwordStdin = false

        @Option(help: "Display name.")
        var name: String?

        func validate() throws {
            guard passwordStdin else { throw ValidationError("--password-stdin is required") }
        }

        func run() async throws {
            let configuration = try Configuration.fromEnvironment()
            _ = configuration.bootstrapLogging()
            let line = try readPasswordFromStandardInput()
            try await withStore(configuration) { store in
                let users = Wiring.makeUserAdministration(store: store, configuration: configuration)
                switch try await users.createAdministrator(email: email, password: Secret(line), name: name, by: .operator(via: "cli")) {
                case .created(let user):
                    print("created administrator \(user.email) (\(user.id))")
                case .alreadyExists(let user):
                    throw CommandFailure("an account with e-mail \(user.email) already exists; use 'neosc admin set-role'")
                }
            }
        }
    }

    struct SetRole: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-role", abstract: "Change a user's role (admin, neosc, user; demo-user comes with a demo only).")

        @Option(help: "E-mail address of the account.")
        var email: String

        @Option(help: "The new role.")
        var role: String

        func run() async throws {
            guard let role = Role(rawValue: role) else {
                throw ValidationError("role must be one of admin, neosc, user, demo-user")
            }
            let configuration = try Configuration.fromEnvironment()
            _ = configuration.bootstrapLogging()
            try await withStore(configuration) { store in
                let users = Wiring.makeUserAdministration(store: store, configuration: configuration)
                let user = try await users.change(email: email, .init(role: role), by: .operator(via: "cli"))
                print("\(user.email) is now \(user.role.rawValue)")
            }
        }
    }
}

extension AdminCommand {
    struct ResetPassword: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset-password",
            abstract: "Set an account's password (read from standard input); it must choose its own at its next sign-in.")

        @Option(help: "E-mail address of the account.")
        var email: String

        @Flag(help: "Read the password from standard input (required: passwords are never arguments).")
        var passwordStdin = false

        func validate() throws {
            guard passwordStdin else { throw ValidationError("--password-stdin is required") }
        }

        func run() async throws {
            let configuration = try Configuration.fromEnvironment()
            _ = configuration.bootstrapLogging()
            let line = try readPasswordFromStandardInput()
            try await withStore(configuration) { store in
                let users = Wiring.makeUserAdministration(store: store, configuration: configuration)
                try await users.resetPassword(email: email, to: Secret(line), by: .operator(via: "cli"))
                print("password of \(email) reset; it must be changed at the next sign-in, and every token was revoked")
            }
        }
    }
}

extension AdminCommand {
    struct Unlock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Let an account held back after failed sign-ins sign in again, from every address.")

        @Option(help: "E-mail address of the account.")
        var email: String

        func run() async throws {
            try await withConfiguredStore { store, configuration in
                let users = Wiring.makeUserAdministration(store: store, configuration: configuration)
                _ = try await users.unlockSignIns(email: email, by: .operator(via: "cli"))
                print("sign-ins of \(email) unlocked; running servers apply it within 5 seconds")
            }
        }
    }
}

extension AdminCommand {
    /// The way back for an account, an administrator's own included, whose authenticator is lost
    /// and recovery codes used up.
    struct ResetMFA: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset-mfa",
            abstract: "Remove an account's second factor: it signs in with its password alone until it enrols again.")

        @Option(help: "E-mail address of the account.")
        var email: String

        func run() async throws {
            try await withConfiguredStore { store, _ in
                guard let user = try await store.user(email: email.trimmingCharacters(in: .whitespaces).lowercased()) else {
                    throw DomainError.notFound("No account with the e-mail address \(email)")
                }
                try await Wiring.makeSecondFactors(store: store).reset(userID: user.id, by: .operator(via: "cli"), from: nil)
                print("second factor of \(email) removed; it signs in with its password alone until it enrols again")
            }
        }
    }
}

extension AdminCommand {
    /// The way back from a policy that refuses its own administrators (an allow-list without their
    /// network, a window at night): running servers apply it within NEOSC_CACHE_TTL.
    struct DisablePolicy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "disable-policy", abstract: "Switch a policy off, from the machine NeoSC runs on.")

        @Option(help: "The policy's id.")
        var id: String

        func run() async throws {
            try await withConfiguredStore { store, _ in
                let policies = Policies(
                    store: store, audit: AuditTrail(store: store, clock: .system, integrity: nil), clock: .system, maxAge: nil,
                    limits: RateLimits())
                _ = try await policies.set(id, enabled: false, by: .operator(via: "cli"), from: nil)
                print("policy \(id) switched off; running servers apply it within NEOSC_CACHE_TTL")
            }
        }
    }
}

/// `neosc seed`: install the default policies and workspace catalogue.
struct SeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed",
        abstract: "Install the default policies and, on an empty catalogue, the default workspaces.")

    @Flag(help: "Replace the whole workspace catalogue with the defaults (ends sessions on removed workspaces).")
    var resetWorkspaces = false

    func run() async throws {
        let configuration = try Configuration.fromEnvironment()
        _ = configuration.bootstrapLogging()
        try await withStore(configuration) { store in
            let now = Date()
            if resetWorkspaces {
                let audit = AuditTrail(store: store, clock: .system)
                try await audit.change {
                    let ended = try await store.replaceAll(
                        with: DefaultCatalogue.workspaces(at: now), ending: .workspacesReset, at: now)
                    try await audit.record(
                        .resetWorkspaces, by: .operator(via: "cli"), resource: ("workspace", "*"),
                        details: ["sessions_terminated": String(ended.count)])
                }
            }
            print("seeded: \(try await store.policies().count) policies, \(try await store.workspaces().count) workspaces")
        }
    }
}

/// A command that could not do what was asked; printed as one line, exit status 1.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Opens the store (seeding defaults), runs `body`, and closes it whatever happens.
/// A domain refusal becomes a one-line `CommandFailure`.
/// `withStore` for a command that reads its configuration from the environment and logs as the
/// server does.
func withConfiguredStore(_ body: (any Store, Configuration) async throws -> Void) async throws {
    let configuration = try Configuration.fromEnvironment()
    _ = configuration.bootstrapLogging()
    try await withStore(configuration) { try await body($0, configuration) }
}

func withStore(_ configuration: Configuration, _ body: (any Store) async throws -> Void) async throws {
    let store = try await Wiring.openStore(configuration, logger: .init(label: "neosc"))
    do {
        try await body(store)
    } catch let error as DomainError {
        try? await store.close()
        throw CommandFailure(error.detail)
    } catch {
        try? await store.close()
        throw error
    }
    try await store.close()
}

/// The one line of standard input a password is read from (passwords are never arguments).
func readPasswordFromStandardInput() throws -> String {
    guard let line = readLine(strippingNewline: true), !line.isEmpty else {
        throw ValidationError("no password on standard input")
    }
    return line
}
