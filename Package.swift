// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "neosc",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "neosc", targets: ["neosc"]),
        // For the micro-benchmarks package in Benchmarks/micro.
        .library(name: "NeoSCCore", targets: ["Domain", "Actors", "Services", "SQLiteStore", "Integrations", "Net", "App"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        // Its frame handling, for the streams' WebSocket upstreams (Net/Streams/UpstreamWebSocket.swift),
        // through an SPI with no semantic-version promise: minor versions only, by hand.
        .package(url: "https://github.com/hummingbird-project/swift-websocket.git", .upToNextMinor(from: "1.6.2")),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
    ],
    targets: [
        // Value types, rules and storage protocols: Foundation, and swift-crypto for the pure
        // computations of the audit chain (SHA-256 hashes, Ed25519 signature checks).
        .target(
            name: "Domain",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            path: "Sources/Domain",
            swiftSettings: swiftSettings
        ),
        // The actors that own mutable runtime state (token cache, session registry, throttles).
        .target(
            name: "Actors",
            dependencies: [
                "Domain", .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
            ],
            path: "Sources/Actors",
            swiftSettings: swiftSettings
        ),
        // The application's use cases, shared by every surface and the CLI: no HTTP in here.
        .target(
            name: "Services",
            dependencies: [
                "Domain", "Actors",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Sources/Services",
            swiftSettings: swiftSettings
        ),
        // The embedded store: Domain's storage protocols on SQLite, with its connection-pool actor.
        .target(
            name: "SQLiteStore",
            dependencies: [
                "Domain",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Sources/SQLiteStore",
            swiftSettings: swiftSettings
        ),
        // The MongoDB C driver (Debian libmongoc-dev), through pkg-config.
        .systemLibrary(
            name: "CMongoC",
            path: "Sources/CMongoC",
            pkgConfig: "libmongoc-1.0",
            providers: [.apt(["libmongoc-dev"])]
        ),
        // The deployment store: Domain's storage protocols on MongoDB, with its client-pool actor.
        .target(
            name: "MongoStore",
            dependencies: [
                "Domain",
                "CMongoC",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Sources/MongoStore",
            swiftSettings: swiftSettings
        ),
        // Workspace stream recordings as gzip files in the data directory (issue #17), beside the
        // stores: Domain's RecordingArchive, written on a thread pool.
        .target(
            name: "RecordingFiles",
            dependencies: [
                "Domain",
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Sources/RecordingFiles",
            swiftSettings: swiftSettings
        ),
        // The outside systems NeoSC talks to, as adapters beside the stores: Zitadel (OpenID
        // Connect), Pomerium's assertions, the provisioning webhook, NetBird; no Hummingbird.
        .target(
            name: "Integrations",
            dependencies: [
                "Domain",
                "Actors",
                "Services",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Integrations",
            swiftSettings: swiftSettings
        ),
        // HTTP only: routes, middleware, request context, password hashing off the event loops.
        .target(
            name: "Net",
            dependencies: [
                "Domain",
                "Actors",
                "Services",
                "Integrations",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "HummingbirdOTP", package: "hummingbird-auth"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "WSCore", package: "swift-websocket"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Net",
            swiftSettings: swiftSettings
        ),
        // Configuration, wiring and the CLI commands: everything `neosc` is, as a library the
        // executable, the tests and the benchmarks share.
        .target(
            name: "App",
            dependencies: [
                "Domain",
                "Actors",
                "Services",
                "SQLiteStore",
                "MongoStore",
                "RecordingFiles",
                "Integrations",
                "Net",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Sources/App",
            swiftSettings: swiftSettings
        ),
        // The `neosc` executable: the command line over `App`, nothing else.
        .executableTarget(
            name: "neosc",
            dependencies: ["App", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/neosc",
            swiftSettings: swiftSettings
        ),
        // What the test targets (and the benchmarks) share: child processes, loopback ports, a
        // clock moved by hand, polling.
        .target(
            name: "TestSupport",
            dependencies: ["Domain"],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DomainTests",
            dependencies: ["Domain", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // The actors on their own: no server, no store, milliseconds.
        .testTarget(
            name: "ActorsTests",
            dependencies: ["Domain", "Actors", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "NeoSCTests",
            dependencies: [
                "Domain",
                "Actors",
                "SQLiteStore",
                "MongoStore",
                "Integrations",
                "Net",
                "Services",
                "App",
                "neosc",
                "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
