// swift-tools-version:6.1
// Micro-benchmarks of NeoSC's hot paths with ordo-one/benchmark (allocations included).
// Run from this folder: swift package benchmark
import PackageDescription

let package = Package(
    name: "neosc-micro-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "neosc", path: "../.."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        .executableTarget(
            name: "NeoSCBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "NeoSCCore", package: "neosc"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            path: "Benchmarks/NeoSCBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Allocations per operation, held to the committed baseline (.benchmarkBaselines/NeoSCAllocations):
        // ./allocations.sh checks, ./allocations.sh --update rewrites it.
        .executableTarget(
            name: "NeoSCAllocations",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "NeoSCCore", package: "neosc"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Benchmarks/NeoSCAllocations",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Deadlines at scale (not an ordo-one benchmark: it measures lateness and restart time).
        .executableTarget(
            name: "ExpiryBenchmark",
            dependencies: [
                .product(name: "NeoSCCore", package: "neosc"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/ExpiryBenchmark"
        ),
    ]
)
