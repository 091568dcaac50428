// swift-tools-version:6.0
// libFuzzer entry points for edfs's decoders (docs/ARCHITECTURE.md, "Tests"). Built only by Scripts/fuzz.sh:
//   swift build --package-path Fuzz --scratch-path .build-fuzz -c debug \
//     -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
// so every module (EDFSFormat and EDFSCrypto too) is instrumented for coverage. Never part of the main build.
import Foundation
import PackageDescription

// A path dependency's identity is its folder's name, which a clone may choose: derive it from this file's place.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let edfs = root.lastPathComponent

let fuzzTargets = ["FuzzWire", "FuzzConfig", "FuzzManifest", "FuzzKeyslot", "FuzzStripe", "FuzzSCRAM"]

let package = Package(
    name: "EDFSFuzz",
    dependencies: [.package(path: "..")],
    targets: fuzzTargets.map { name in
        .executableTarget(name: name, dependencies: [
            .product(name: "EDFSFormat", package: edfs),
            .product(name: "EDFSCrypto", package: edfs),
        ])
    },
    swiftLanguageModes: [.v6]
)
