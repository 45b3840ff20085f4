// swift-tools-version:6.1
// What the fuzz targets link against but do not fuzz: jwt-kit and swift-crypto, built once by
// SwiftPM without instrumentation into one shared library (.build-fuzz/deps). NeoSC's own
// sources are compiled with `swiftc -sanitize=fuzzer` by scripts/fuzz, against this library.
// Hummingbird is a dependency only for its sources: the cookie target compiles its cookie
// parser directly, from the checkout SwiftPM makes here (nothing of it is built).
// The version ranges are the main package's; scripts/fuzz copies its Package.resolved, when
// there is one, so the versions are the ones the server is built with.
import PackageDescription

let package = Package(
    name: "neosc-fuzz-deps",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "FuzzDeps", type: .dynamic, targets: ["FuzzDeps"])
    ],
    dependencies: [
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
    ],
    targets: [
        .target(
            name: "FuzzDeps",
            dependencies: [
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/FuzzDeps"
        )
    ]
)
