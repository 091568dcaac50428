// swift-tools-version:6.0
// edfs — encrypted, distributed chunk store. Target graph (docs/ARCHITECTURE.md):
// edfs → EDFSMount → EDFSClient; edfs → EDFSDevTools → EDFSClient / EDFSNode → EDFSTransport → EDFSFormat → EDFSCrypto
// → COpenSSL. EDFSMount (the FUSE file system of `edfs mount`) also links CFUSE (libfuse3).
// Nothing below imports anything above; EDFSDevTools holds what only development and tests use.
import PackageDescription

let package = Package(
    name: "edfs",
    products: [
        .executable(name: "edfs", targets: ["edfs"]),
        .library(name: "EDFSCrypto", targets: ["EDFSCrypto"]),
        .library(name: "EDFSFormat", targets: ["EDFSFormat"]),
        .library(name: "EDFSNode", targets: ["EDFSNode"]),
        .library(name: "EDFSClient", targets: ["EDFSClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // The node's metrics: swift-metrics is the API the node records through, swift-prometheus the registry the
        // node owns and the text format its metrics endpoint serves (docs/METRICS.md).
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // libcrypto of the system OpenSSL 3 (apt: libssl-dev): every at-rest primitive, development certificates.
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev", "pkg-config"])]),
        // ISA-L (apt: libisal-dev): CRC for the nodes' keyless per-block checksums.
        .systemLibrary(name: "CISAL", pkgConfig: "libisal", providers: [.apt(["libisal-dev", "pkg-config"])]),

        // libfuse3 (apt: libfuse3-dev, and fuse3 for fusermount3): the high-level API `edfs mount` runs on.
        .systemLibrary(name: "CFUSE", pkgConfig: "fuse3", providers: [.apt(["libfuse3-dev", "fuse3", "pkg-config"])]),

        .target(name: "EDFSCrypto", dependencies: ["COpenSSL"]),
        .target(name: "EDFSFormat", dependencies: ["EDFSCrypto"]),
        // The wire frame codec as SwiftNIO handlers and the credit primitive, shared by the node and the client.
        .target(name: "EDFSTransport", dependencies: ["EDFSFormat", .product(name: "NIOCore", package: "swift-nio")]),
        .target(
            name: "EDFSNode",
            dependencies: [
                "EDFSFormat", "EDFSCrypto", "EDFSTransport", "CISAL",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .target(
            name: "EDFSClient",
            dependencies: [
                "EDFSFormat", "EDFSCrypto", "EDFSTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `edfs mount`: the FUSE file system over a cluster session (docs/MOUNT.md).
        .target(name: "EDFSMount", dependencies: ["EDFSClient", "EDFSFormat", "EDFSCrypto", "CFUSE"]),
        // Development tools the product does not link: local clusters of node processes, the demo, benchmarks.
        .target(
            name: "EDFSDevTools",
            dependencies: [
                "EDFSCrypto", "EDFSFormat", "EDFSClient", "COpenSSL",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .executableTarget(
            name: "edfs",
            dependencies: [
                "EDFSCrypto", "EDFSFormat", "EDFSNode", "EDFSClient", "EDFSDevTools", "EDFSMount",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Test-only support shared by the test targets: in-process clusters, live clusters, the built binary.
        .target(name: "EDFSTestSupport", dependencies: ["EDFSClient", "EDFSNode", "EDFSDevTools", "EDFSFormat", "EDFSCrypto"],
                path: "Tests/EDFSTestSupport"),

        .testTarget(name: "EDFSCryptoTests", dependencies: ["EDFSCrypto"]),
        .testTarget(name: "EDFSFormatTests", dependencies: ["EDFSFormat", "EDFSCrypto"], resources: [.copy("Vectors"), .copy("FuzzRegressions")]),
        .testTarget(name: "EDFSNodeTests",
                    dependencies: ["EDFSNode", "EDFSClient", "EDFSFormat", "EDFSCrypto", "EDFSTestSupport", "EDFSTransport",
                                   .product(name: "NIOEmbedded", package: "swift-nio")]),
        .testTarget(name: "EDFSClientTests",
                    dependencies: ["EDFSClient", "EDFSNode", "EDFSDevTools", "EDFSFormat", "EDFSCrypto", "EDFSTestSupport"]),
        .testTarget(name: "EDFSMountTests", dependencies: ["EDFSMount"]),
        .testTarget(name: "edfsTests", dependencies: ["EDFSFormat", "EDFSCrypto", "EDFSClient", "EDFSTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
