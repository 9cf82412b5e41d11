// swift-tools-version: 6.0
// Cohort: federated transfer learning. No SwiftPM package dependencies by design;
// zlib, OpenSSL, libpng and libjpeg come in as system-library targets.
import PackageDescription

/// The numeric kernels are built for x86-64-v3 (AVX2 + FMA). Without it the SIMD
/// micro-kernel lowers to scalar `fmaf` calls and runs ~100x slower (see README).
let kernelFlags: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-march=x86-64-v3"])]

let package = Package(
    name: "Cohort",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "cohort", targets: ["cohort"]),
        .library(name: "CohortTensor", targets: ["CohortTensor"]),
        .library(name: "CohortNN", targets: ["CohortNN"]),
        .library(name: "CohortCheckpoint", targets: ["CohortCheckpoint"]),
        .library(name: "CohortData", targets: ["CohortData"]),
        .library(name: "CohortAdapt", targets: ["CohortAdapt"]),
        .library(name: "CohortTransport", targets: ["CohortTransport"]),
        .library(name: "CohortFederation", targets: ["CohortFederation"]),
        .library(name: "CohortSimulation", targets: ["CohortSimulation"]),
        .library(name: "CohortCLI", targets: ["CohortCLI"]),
    ],
    targets: [
        .systemLibrary(
            name: "CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]),
        .systemLibrary(
            name: "COpenSSL", pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]),
        .systemLibrary(
            name: "CPNG", pkgConfig: "libpng",
            providers: [.apt(["libpng-dev"]), .brew(["libpng"])]),
        .systemLibrary(
            name: "CJPEG", pkgConfig: "libjpeg",
            providers: [.apt(["libjpeg62-turbo-dev"]), .brew(["jpeg-turbo"])]),
        // CRC-32C for checkpoint files: the SSE4.2 instruction when the CPU has it (chosen at
        // run time), else slicing-by-8 tables.
        .target(name: "CCRC32C"),
        .target(name: "CohortTensor", dependencies: ["CCRC32C"], swiftSettings: kernelFlags),
        .target(name: "CohortNN", dependencies: ["CohortTensor"], swiftSettings: kernelFlags),
        .target(name: "CohortCheckpoint", dependencies: ["CohortTensor", "CohortNN", "CohortData", "CZlib", "COpenSSL", "CCRC32C"], swiftSettings: kernelFlags),
        .target(name: "CohortData", dependencies: ["CohortTensor", "CohortNN", "CZlib", "CPNG", "CJPEG"]),
        .target(name: "CohortAdapt", dependencies: ["CohortTensor", "CohortNN"], swiftSettings: kernelFlags),
        .target(name: "CohortTransport", dependencies: ["CZlib", "COpenSSL", "CCRC32C"]),
        .target(name: "CohortFederation", dependencies: ["CohortTensor", "CohortNN", "CohortCheckpoint", "CohortTransport", "CohortData",
                                                        "CohortAdapt", "COpenSSL", "CCRC32C"],
                swiftSettings: kernelFlags),
        .target(name: "CohortSimulation", dependencies: ["CohortTensor", "CohortNN", "CohortCheckpoint", "CohortData", "CohortAdapt", "CohortFederation"]),
        .target(name: "CohortBench", dependencies: ["CohortTensor", "CohortNN", "CohortCheckpoint", "CohortData", "CohortTransport", "CohortFederation", "CohortSimulation"],
                swiftSettings: kernelFlags),
        .target(name: "CohortCLI", dependencies: ["CohortTensor", "CohortNN", "CohortCheckpoint", "CohortData", "CohortTransport",
                                                 "CohortFederation", "CohortBench", "CohortAdapt", "CohortSimulation", "CZlib", "COpenSSL"]),
        .executableTarget(name: "cohort", dependencies: ["CohortCLI"]),
        .testTarget(name: "CohortTensorTests", dependencies: ["CohortTensor"]),
        .testTarget(name: "CohortNNTests", dependencies: ["CohortNN", "CohortTensor"]),
        .testTarget(name: "CohortCheckpointTests", dependencies: ["CohortCheckpoint", "CohortData", "CohortNN", "CohortTensor", "CCRC32C"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "CohortDataTests", dependencies: ["CohortData", "CohortNN", "CohortTensor", "CZlib"]),
        .testTarget(name: "CohortAdaptTests", dependencies: ["CohortAdapt", "CohortNN", "CohortTensor"]),
        .testTarget(name: "CohortFederationTests", dependencies: ["CohortFederation", "CohortCheckpoint", "CohortNN", "CohortTensor", "CohortBench"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "CohortTransportTests", dependencies: ["CohortTransport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "CohortSimulationTests", dependencies: ["CohortSimulation", "CohortTensor"]),
        .testTarget(name: "CohortCLITests", dependencies: ["CohortCLI", "CohortCheckpoint", "CohortData", "CohortNN", "CohortFederation", "CohortTransport", "CohortSimulation", "CohortTensor"]),
    ]
)
