// swift-tools-version:6.0
// The bare framework (issue #16): Hummingbird with no application code, answering the same
// small JSON body as NeoSC's floor route. Benchmarks/load/run.sh measures NeoSC against it in the
// same run; the distance between the two is NeoSC's overhead. Same Hummingbird as NeoSC's
// Package.resolved.
import PackageDescription

let package = Package(
    name: "bare-hummingbird",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", exact: "2.28.1")
    ],
    targets: [
        .executableTarget(
            name: "BareHummingbird",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")]
        )
    ]
)
