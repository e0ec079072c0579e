// swift-tools-version:6.0
// nanochat in Swift: the whole ChatGPT pipeline (tokenizer, pretraining, SFT, RL, chat) in one binary.
import PackageDescription

let package = Package(
    name: "nanochat",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // OpenBLAS through pkg-config (Debian: libopenblas-dev). Only Model/BLAS.swift imports it.
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"]), .brew(["openblas"])]
        ),
        .executableTarget(
            name: "nanochat",
            dependencies: [
                "CBLAS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // Swift 5 mode: compute code shares raw buffers across threads on purpose.
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .testTarget(
            name: "nanochatTests",
            dependencies: ["nanochat"],
            exclude: ["fixtures"],  // read by path (see Fixtures.swift), not bundled
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
    ]
)
