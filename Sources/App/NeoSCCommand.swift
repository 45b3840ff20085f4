import ArgumentParser
import Foundation
import Logging

/// `neosc`: the server and its operator commands.
public struct NeoSCCommand: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "neosc",
        abstract: "NeoSC: Zero Trust workspace access backend.",
        version: Configuration.version,
        subcommands: [ServeCommand.self, AdminCommand.self, AuditCommand.self, SeedCommand.self, HealthcheckCommand.self],
        defaultSubcommand: ServeCommand.self)
}

extension Configuration {
    /// The configuration from this process's environment; on a bad value, one line on stderr and exit 2.
    static func fromEnvironment() throws -> Configuration {
        do {
            return try Configuration(environment: ProcessInfo.processInfo.environment)
        } catch {
            FileHandle.standardError.write(Data("neosc: invalid configuration: \(error.description)\n".utf8))
            throw ExitCode(2)
        }
    }

    /// Sends logs to stderr at the configured level, as JSON lines or readable text
    /// (`LOG_FORMAT`). Call once, first thing.
    func bootstrapLogging() -> Logger {
        let level = logLevel
        let json = logFormat == .json
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler =
                json ? JSONLogHandler.standardError(label: label) : TextLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: "neosc")
    }
}
